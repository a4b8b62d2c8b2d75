"""Session-summary lists slot by slot (``services.slots``), for small models.

Code finds the facts in the transcript: its most used content words (the key points'
subjects, and ``vocabularyUsed``), the turns that use each (the excerpt a key point is
written from, so a long transcript never has to fit a small model's context), and the
grammar patterns its sentences show (``grammar_patterns``). The model writes one key point
per word and one suggestion per pattern and topic; each is checked, and code's sentence
replaces one that fails twice. The patterns are facts code finds, as ``speakingTime`` is
(a small model names them no better than chance), not wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from llm_api.catalog import ModelInfo
from llm_api.errors import InvalidModelOutput
from llm_api.schemas.tutor import SessionSummaryRequest, SessionSummaryResponse
from llm_api.services.generation import Caller
from llm_api.services.slots import Slot, Wording
from llm_api.services.structured import as_data, generate_structured
from llm_api.services.tutor.speaking_time import WORD, find_turns, speaking_time
from llm_api.services.tutor.vocabulary import Transcript
from llm_api.services.tutor.wording import comparable, distinct
from llm_api.services.wording_check import Expect

#: a small model's rating when it gives none: the middle of the scale
NEUTRAL_RATING = 5
#: how much of the transcript a small model rates the learner on
RATING_CHARS = 3_000
KEY_POINTS = 3
PATTERNS = 2
SUGGESTIONS = 2
VOCABULARY = 8
EXCERPT_CHARS = 360

#: words that name a grammar pattern: a pattern must use one
GRAMMAR_TERMS = tuple(
    """tense verb verbs question questions noun nouns adjective adjectives adverb adverbs
    pronoun pronouns article articles preposition prepositions plural conditional modal
    passive imperative clause clauses comparative superlative present past future simple
    continuous perfect progressive infinitive gerund negative negation possessive
    conjunction conjunctions order agreement""".split()
)

_IRREGULAR_PAST = (
    "went|was|were|had|ate|did|came|saw|made|took|got|said|told|gave|found|thought|bought|"
    "left|met|ran|wrote|read|spoke|drank|slept|felt|became|began|brought"
)
#: (name, what shows it), in the order they are listed
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Present perfect tense",
     re.compile(r"\b(?:have|has|'ve)\s+(?:\w+ed|been|done|gone|seen|had|made)\b", re.I)),
    ("Past simple tense", re.compile(rf"\b(?:{_IRREGULAR_PAST}|[a-z]{{3,}}ed)\b", re.I)),
    ("Conditional sentences with if", re.compile(r"\bif\b[^.?!]*\bwould\b", re.I)),
    ("Future with going to", re.compile(r"\bgoing to\s+[a-z]+", re.I)),
    ("Future with will", re.compile(r"\bwill\s+[a-z]+|\w'll\b", re.I)),
    ("Present continuous tense", re.compile(r"\b(?:am|is|are|'m|'re)\s+[a-z]+ing\b", re.I)),
    ("Questions with do and did",
     re.compile(r"\b(?:do|does|did)\s+(?:you|we|they|he|she)\b", re.I)),
    ("Wh- questions", re.compile(r"\b(?:what|where|when|why|how|who)\b[^.?!]*\?", re.I)),
)  # fmt: skip
DEFAULT_PATTERN = "Present simple tense"


@dataclass(frozen=True, slots=True)
class Found:
    name: str
    example: str  # a sentence that shows it


def grammar_patterns(text: str, limit: int = PATTERNS) -> list[Found]:
    """The patterns ``text`` shows, each with its first example sentence."""
    sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+|\n", text) if s.strip()]
    found: list[Found] = []
    for name, rule in _RULES:
        example = next((s for s in sentences if rule.search(s)), None)
        if example is not None:
            found.append(Found(name, _without_label(example)[:EXCERPT_CHARS]))
        if len(found) == limit:
            return found
    return found or [Found(DEFAULT_PATTERN, sentences[0][:EXCERPT_CHARS] if sentences else "")]


def excerpt(transcript: str, participants: list[str], word: str) -> str:
    """The first turns that use ``word``, at most ``EXCERPT_CHARS`` long."""
    _, turns = find_turns(transcript, participants)
    wanted = word.casefold()
    lines = [
        f"{turn.label}: {' '.join(turn.text.split())}"
        for turn in turns
        if any(m.group().casefold() == wanted for m in WORD.finditer(turn.text))
    ]
    text = "\n".join(lines[:3]) or transcript
    return text[:EXCERPT_CHARS]


def key_point_slot(word: str, passage: str) -> Slot:
    said = tuple(m.group() for m in WORD.finditer(_without_labels(passage)) if len(m.group()) > 3)
    return Slot(
        task=f"Write one sentence that sums up what was said about {word} in this part of "
        "a language lesson.",
        facts=as_data("Lesson excerpt", passage),
        lead="The participants talked about",
        expect=Expect(subject=said or (word,)),
        fallback=f"The lesson included a conversation about {word}.",
    )


def suggestion_slots(patterns: list[Found], words: list[str]) -> list[Slot]:
    slots = [
        Slot(
            task="Write one sentence suggesting how the learner can practise the "
            f"{found.name.lower()} next.",
            lead=f"Practise the {found.name.lower()} by",
            expect=Expect(subject=(found.name,)),
            fallback=f"Practise the {found.name.lower()} in a few sentences of your own.",
        )
        for found in patterns[:1]
    ]
    for word in words:
        if len(slots) == SUGGESTIONS:
            break
        slots.append(
            Slot(
                task="Write one sentence suggesting how the learner can learn more words "
                f"about {word}.",
                lead="Next time, try to",
                expect=Expect(subject=(word, *GRAMMAR_TERMS, "words", "vocabulary")),
                fallback=f"Learn more words about {word} and use them in your next lesson.",
            )
        )
    return slots


def _without_labels(passage: str) -> str:
    return "\n".join(_without_label(line) for line in passage.splitlines())


def _without_label(sentence: str) -> str:
    return re.sub(r"^[^\W\d][\w .'-]{0,40}:\s*", "", sentence)


async def slot_summary(
    caller: Caller, model: ModelInfo, request: SessionSummaryRequest
) -> SessionSummaryResponse:
    """A small model's summary: code's facts, one short request per sentence
    (``summary_slots``), and one for the rating."""
    transcript, participants = request.transcript, request.participants
    words = Transcript(transcript, participants).candidates(VOCABULARY)
    patterns = grammar_patterns(transcript)
    wording = Wording(caller, model)
    points = [
        await wording.write(key_point_slot(w, excerpt(transcript, participants, w)))
        for w in words[:KEY_POINTS]
    ]
    # a small model cannot name a grammar pattern reliably: code detects them, as facts
    named = [found.name for found in patterns]
    tips = [await wording.write(slot) for slot in suggestion_slots(patterns, words)]
    wording.publish()
    return SessionSummaryResponse(
        keyPoints=points,
        vocabularyUsed=words,
        grammarPatterns=distinct(named, key=comparable),
        speakingTime=speaking_time(transcript, participants).percent,
        suggestions=tips,
        overallRating=await _rating(caller, model, request),
    )


async def _rating(caller: Caller, model: ModelInfo, request: SessionSummaryRequest) -> int:
    """The model's 1-10 rating of the learner, from the start of the transcript."""
    head = request.transcript[:RATING_CHARS]
    try:
        rating = await generate_structured(
            caller,
            model,
            Rating,
            instructions="Rate the learner's overall performance in this language lesson "
            "from 1 to 10.",
            data=as_data("Transcript", head),
            example='{"overallRating": 7}',
            max_tokens=16,
            temperature=0.0,
        )
    except InvalidModelOutput:  # no rating is no reason to lose the summary
        return NEUTRAL_RATING
    return rating.overallRating


class Rating(BaseModel):
    overallRating: Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
