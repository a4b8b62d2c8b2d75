"""Conversation topics: exactly ``count`` distinct questions, each tied to an interest.

The answer's schema has one list of questions per interest, keyed by the interest
itself, so every topic is tied to an interest by structure, even for a small model, and
the count is spread evenly over the interests. Each list may hold one spare question;
code drops repeats (same words, any case), takes the interests' questions in turn, and
asks again (the repair round) when too few distinct ones are left. A small model is asked
one question per request instead (``topic_slots``, ``services.slots``), in English when it
cannot write the requested language (the answer then says ``content-language: en``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from llm_api.catalog import ModelInfo
from llm_api.schemas.tutor import CefrLevel, ConversationTopicsRequest, ConversationTopicsResponse
from llm_api.services.generation import Caller
from llm_api.services.slots import Slot, Wording, by_slot, writes
from llm_api.services.structured import as_data, generate_structured
from llm_api.services.tutor.levels import CAN_DO, LEVEL_NAMES
from llm_api.services.tutor.wording import comparable, distinct, one_line, sentence
from llm_api.services.wording_check import Expect

#: each interest's list may hold this many questions beyond its share
SPARE_PER_INTEREST = 1
TOKENS_PER_TOPIC = 45

#: one line that does not start in lower case and ends with its only question mark
#: (``¿``, capitals and scripts without case may start it)
QUESTION_PATTERN = r'^[^"\\\n?a-z ][^"\\\n?]{8,90}\?$'
Question = Annotated[str, Field(pattern=QUESTION_PATTERN)]


#: the shape shown to the model (its interest is deliberately none a learner gave)
EXAMPLE = json.dumps(
    {"music": ["What kind of music do you like?", "Who is your favourite singer, and why?"]}
)


def shares(interests: list[str], count: int) -> dict[str, int]:
    """``count`` questions spread over the interests, earlier interests first;
    interests beyond ``count`` get none."""
    base, extra = divmod(count, len(interests))
    spread = {interest: base + (1 if n < extra else 0) for n, interest in enumerate(interests)}
    return {interest: share for interest, share in spread.items() if share}


def topics_model(share: dict[str, int]) -> type[BaseModel]:
    """``{"<interest>": [question, ...], ...}``, one key per interest that has a share."""
    fields: dict[str, Any] = {
        f"interest_{n}": (
            list[Question],
            Field(alias=interest, min_length=k, max_length=k + SPARE_PER_INTEREST),
        )
        for n, (interest, k) in enumerate(share.items())
    }
    return create_model("Topics", __config__=ConfigDict(populate_by_name=False), **fields)


async def conversation_topics(
    caller: Caller, model: ModelInfo, request: ConversationTopicsRequest
) -> ConversationTopicsResponse:
    interests = distinct(request.interests, key=str.casefold)
    count = request.count
    level = request.level
    share = shares(interests, count)
    language = request.language
    if not writes(caller, model, language):
        # the model cannot write it: English questions, and the answer says so
        language = "English"
        caller.reply.set("content-language", "en")
    slots = topic_slots(share, level, language)
    wording = Wording(caller, model)
    if by_slot(caller, model):
        topics = [await wording.write(slot) for slot in slots]
    else:
        pairs = await _structured(caller, model, request, share, language)
        chosen = choose(pairs, list(share), count)
        # each interest's questions in turn, as ``topic_slots`` orders them
        topics = [
            wording.vet(question, slot) for question, slot in zip(chosen, slots, strict=False)
        ]
    wording.publish()
    return ConversationTopicsResponse(topics=topics)


async def _structured(
    caller: Caller,
    model: ModelInfo,
    request: ConversationTopicsRequest,
    share: dict[str, int],
    language: str,
) -> list[tuple[str, str]]:
    level, count = request.level, request.count
    instructions = (
        f"You write conversation questions for language learners at CEFR level {level} "
        f"({LEVEL_NAMES[level]}), who can handle {CAN_DO[level]}. Write different questions "
        "about each of the learner's interests, in the language given below. Each question "
        "ends with a question mark."
    )
    data = "\n".join(
        [
            as_data("Language to write in", language),
            as_data("Interests, separated by commas", ", ".join(share)),
        ]
    )
    answer = await generate_structured(
        caller,
        model,
        topics_model(share),
        instructions=instructions,
        data=data,
        check=lambda answer: check_topics(answer, count),
        example=EXAMPLE,
        # small models repeat themselves; a mild penalty keeps the questions apart
        sampling={"frequency_penalty": 0.5},
        max_tokens=TOKENS_PER_TOPIC * (count + SPARE_PER_INTEREST * len(share)) + 40,
    )
    return _pairs(answer)


def topic_slots(share: dict[str, int], level: CefrLevel, language: str) -> list[Slot]:
    """One slot per question: the interests in turn, each question of an interest from
    another angle (so even greedy decoding writes different ones)."""
    asked = dict.fromkeys(share, 0)
    slots = []
    while len(slots) < sum(share.values()):
        for interest in share:
            angle = asked[interest]
            if angle >= share[interest]:
                continue
            asked[interest] += 1
            # across languages a question may name its interest by another word
            subject = (interest,) if language.casefold() in ("english", "en") else ()
            asks, template = ANGLES[angle % len(ANGLES)]
            english = bool(subject)
            slots.append(
                Slot(
                    task=f"Write one {STYLE[level]} question in {language} for a language "
                    f"learner about {interest}.",
                    # the question word differs per angle, so greedy decoding differs too
                    lead=f"When it comes to {interest}, {asks}" if english else "",
                    expect=Expect(subject=subject, kind="question"),
                    fallback=template.format(interest=interest),
                )
            )
    return slots


#: how each question of one interest differs: how the model's starts (after "When it
#: comes to <interest>,"), and code's question
ANGLES = (
    ("what", "What do you enjoy most about {interest}?"),
    ("how", "Can you describe a memorable experience with {interest}?"),
    ("why", "How would you like {interest} to be part of your future?"),
    ("which", "What do people in your country think about {interest}?"),
    ("who", "How has {interest} changed in your lifetime?"),
    ("where", "How did you first become interested in {interest}?"),
    ("do you", "What advice would you give someone new to {interest}?"),
    ("have you", "Is {interest} more popular with young people or with older people?"),
    ("would you", "How often do you think about {interest} in your daily life?"),
    ("when", "What is the most difficult thing about {interest}?"),
)
STYLE = {
    CefrLevel.A1: "very short and simple",
    CefrLevel.A2: "short and simple",
    CefrLevel.B1: "clear",
    CefrLevel.B2: "open",
    CefrLevel.C1: "thought-provoking",
    CefrLevel.C2: "subtle, thought-provoking",
}


def check_topics(answer: BaseModel, count: int) -> list[str]:
    unique = distinct((question for _, question in _pairs(answer)), key=comparable)
    if len(unique) < count:
        return [f"only {len(unique)} distinct questions; write {count} different ones"]
    return []


def choose(pairs: list[tuple[str, str]], interests: list[str], count: int) -> list[str]:
    """``count`` distinct questions, taking each interest's first ones in turn."""
    unique = distinct(pairs, key=lambda pair: comparable(pair[1]))
    queues = {interest: [q for i, q in unique if i == interest] for interest in interests}
    chosen: list[str] = []
    while len(chosen) < count and any(queues.values()):
        for interest in interests:
            if queues[interest] and len(chosen) < count:
                chosen.append(queues[interest].pop(0))
    return [sentence(question, end="?") for question in chosen]


def _pairs(answer: BaseModel) -> list[tuple[str, str]]:
    """``(interest, question)`` in the answer's order."""
    by_alias = answer.model_dump(by_alias=True)
    return [(interest, one_line(q)) for interest, questions in by_alias.items() for q in questions]
