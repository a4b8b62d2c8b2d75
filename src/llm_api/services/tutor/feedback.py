"""Level feedback: five sections whose facts come from code and whose wording from the model.

Code decides the goal (the next CEFR level, or mastery at C2), which skills are strengths
(the highest scores) and which need work (the lowest), and writes every number and level;
the model writes one sentence per part, and its schema allows no digits at all.
Sections, bullets and numbering are assembled here, so their order and format do not
depend on the model. A small model writes the nine sentences one request each
(``feedback_slots``); a capable model's one answer goes through the same wording check.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, Field

from llm_api.catalog import ModelInfo
from llm_api.schemas.tutor import Analysis, CefrLevel, LevelFeedbackRequest, LevelFeedbackResponse
from llm_api.services.generation import Caller
from llm_api.services.slots import Slot, Wording, by_slot
from llm_api.services.structured import generate_structured
from llm_api.services.tutor import scores
from llm_api.services.tutor.feedback_slots import RECOMMENDATIONS, feedback_slots
from llm_api.services.tutor.levels import LEVEL_NAMES, next_goal, next_level
from llm_api.services.tutor.wording import sentence

SECTIONS = (
    "Overall Assessment:",
    "Strengths:",
    "Areas for Improvement:",
    "Study Recommendations:",
    "Next Steps to {goal}:",
)
MAX_TOKENS = 400


def no_digits(low: int, high: int) -> str:
    """One line of ``low`` to ``high`` characters without digits: every number in the
    feedback is written by code, so the model cannot get one wrong."""
    return rf'^[^0-9"\\\n]{{{low},{high}}}$'


Sentence = Annotated[str, Field(pattern=no_digits(10, 90))]


class FeedbackWording(BaseModel):
    overall: Annotated[str, Field(pattern=no_digits(20, 160))] = Field(
        description="How the learner is doing at this level, encouraging and honest"
    )
    strengths: list[Sentence] = Field(
        min_length=scores.HIGHLIGHTED,
        max_length=scores.HIGHLIGHTED,
        description="One sentence per strength, in the order given",
    )
    improvements: list[Sentence] = Field(
        min_length=scores.HIGHLIGHTED,
        max_length=scores.HIGHLIGHTED,
        description="One sentence per area for improvement, in the order given",
    )
    recommendations: list[Sentence] = Field(
        min_length=3,
        max_length=4,
        description="Concrete study activities for the areas for improvement",
    )
    next_steps: Annotated[str, Field(pattern=no_digits(20, 160))] = Field(
        description="How to reach the goal"
    )


INSTRUCTIONS = (
    "You are an experienced language teacher writing feedback for a learner, in English, "
    "addressed to the learner (you), specific and encouraging. The assessment below is "
    "fixed: keep to its strengths and areas for improvement, in its order. Write no "
    "numbers, scores or level names: they are added to your sentences."
)

EXAMPLE = json.dumps(
    {
        "overall": "Your grammar carries you clearly through familiar topics.",
        "strengths": [
            "Your task achievement is strong: you complete each task and stay on topic.",
            "Your grammar is mostly accurate.",
        ],
        "improvements": [
            "Practise the word stress and vowel sounds of your pronunciation.",
            "Learn more vocabulary for everyday topics.",
        ],
        "recommendations": [
            "Shadow short audio clips to practise your pronunciation.",
            "Keep a vocabulary notebook organised by topic.",
            "Record yourself to hear where your fluency breaks down.",
        ],
        "next_steps": "Practise your pronunciation in longer answers that explain your opinions.",
    }
)


async def level_feedback(
    caller: Caller, model: ModelInfo, request: LevelFeedbackRequest
) -> LevelFeedbackResponse:
    analysis = request.analysis.model_dump()
    level = request.level
    slots = feedback_slots(analysis, level)
    wording = Wording(caller, model)
    if by_slot(caller, model):
        parts = {
            part: [await wording.write(slot) for slot in group] for part, group in slots.items()
        }
    else:
        answer = await generate_structured(
            caller,
            model,
            FeedbackWording,
            instructions=INSTRUCTIONS,
            data=describe_assessment(request.analysis, level),
            # small models loop on lists; a mild penalty keeps the sentences moving
            sampling={"frequency_penalty": 0.5},
            example=EXAMPLE,
            max_tokens=MAX_TOKENS,
        )
        parts = vet(wording, answer, slots)
    wording.publish()
    final = FeedbackWording.model_construct(
        overall=parts["overall"][0],
        strengths=parts["strengths"],
        improvements=parts["improvements"],
        recommendations=parts["recommendations"],
        next_steps=parts["next_steps"][0],
    )
    return LevelFeedbackResponse(feedback=assemble(analysis, level, final))


def vet(
    wording: Wording, answer: FeedbackWording, slots: dict[str, list[Slot]]
) -> dict[str, list[str]]:
    """A structured answer's sentences, each checked against its slot (a fourth
    recommendation against the third's)."""
    given = {
        "overall": [answer.overall],
        "strengths": answer.strengths,
        "improvements": answer.improvements,
        "recommendations": answer.recommendations,
        "next_steps": [answer.next_steps],
    }
    return {
        part: [
            wording.vet(sentence(text), slots[part][min(i, len(slots[part]) - 1)])
            for i, text in enumerate(texts)
        ]
        for part, texts in given.items()
    }


def describe_assessment(analysis: Analysis, level: CefrLevel) -> str:
    values = analysis.model_dump()
    following = next_level(level)
    goal = (
        f"{following} ({LEVEL_NAMES[following]})"
        if following
        else "mastery: C2 is the top level, so keep refining precision, idiom and register"
    )
    listed = ", ".join(
        f"{score.label.lower()} {score.shown}" for score in scores.all_scores(values)
    )
    return "\n".join(
        [
            f"Current level: {level} ({LEVEL_NAMES[level]})",
            f"Goal: {goal}",
            f"Scores out of 100: {listed}",
            "Strengths, in this order: " + _named(scores.strengths(values)),
            "Areas for improvement, in this order: " + _named(scores.weaknesses(values)),
            "Recommendations, one study activity each, naming its skill: "
            + _named(scores.weaknesses(values, RECOMMENDATIONS)),
        ]
    )


def assemble(analysis: dict[str, float], level: CefrLevel, wording: FeedbackWording) -> str:
    top = scores.strengths(analysis)
    low = scores.weaknesses(analysis)
    overview = (
        f"At {level} ({LEVEL_NAMES[level]}), your scores average "
        f"{scores.format_score(round(scores.average(analysis), 1))} out of 100, highest in "
        f"{top[0].label.lower()} ({top[0].shown}) and lowest in "
        f"{low[0].label.lower()} ({low[0].shown})."
    )
    sections = [
        [SECTIONS[0], f"{overview} {sentence(wording.overall)}"],
        [SECTIONS[1], *_bullets(top, wording.strengths)],
        [SECTIONS[2], *_bullets(low, wording.improvements)],
        [
            SECTIONS[3],
            *(f"{n}. {sentence(line)}" for n, line in enumerate(wording.recommendations, 1)),
        ],
        [SECTIONS[4].format(goal=next_goal(level)), sentence(wording.next_steps)],
    ]
    return "\n\n".join("\n".join(section) for section in sections)


def _bullets(ranked: list[scores.Score], lines: list[str]) -> list[str]:
    return [
        f"- {score.label} ({score.shown}%): {sentence(line)}"
        for score, line in zip(ranked, lines, strict=True)
    ]


def _named(ranked: list[scores.Score]) -> str:
    return ", then ".join(f"{score.label.lower()} (score {score.shown})" for score in ranked)
