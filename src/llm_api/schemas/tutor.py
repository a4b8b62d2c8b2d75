"""Language-learning endpoints of the native API (`/api/llm`), seed "LLM Text Generation API"."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, field_validator

from llm_api.schemas.common import STRICT_REQUEST

#: largest transcript accepted, in characters (about 50,000 tokens); longer ones are
#: summarised in parts when they exceed the model's context, never cut
MAX_TRANSCRIPT_CHARS = 200_000
MAX_INTERESTS = 10
MAX_TOPICS = 10
MAX_PARTICIPANTS = 10


class CefrLevel(enum.StrEnum):
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


def parse_level(text: str) -> CefrLevel:
    """``"b1"``, ``" B1 "`` → ``CefrLevel.B1``; anything else raises ``ValueError``."""
    try:
        return CefrLevel(text.strip().upper())
    except ValueError:
        raise ValueError(
            f"must be a CEFR level: {', '.join(CefrLevel)} (any case), got {text!r}"
        ) from None


def name_key(name: str) -> str:
    """What two spellings of one name share: ``"Teacher 456"`` → ``"teacher456"`` (how
    transcript labels are matched to participants, and participants told apart)."""
    return "".join(char for char in name.casefold() if char.isalnum())


def _level_any_case(value: object) -> CefrLevel:
    if not isinstance(value, str):
        raise ValueError("must be a string: a CEFR level, A1 to C2")
    return parse_level(value)


Level = Annotated[
    CefrLevel,
    BeforeValidator(_level_any_case),
    Field(description="CEFR level, A1 to C2, in any case (`b1` is B1)"),
]
Score = Annotated[float, Field(ge=0, le=100, description="0 to 100")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModelField = Annotated[
    str | None,
    Field(
        description="Catalog model with JSON mode (short or full id); defaults to the "
        "configured tutor model"
    ),
]


class Analysis(BaseModel):
    model_config = STRICT_REQUEST

    grammar: Score
    vocabulary: Score
    fluency: Score
    pronunciation: Score
    taskAchievement: Score
    interaction: Score


class LevelFeedbackRequest(BaseModel):
    model_config = STRICT_REQUEST

    analysis: Analysis = Field(description="The six assessment scores")
    level: Level
    model: ModelField = None


class LevelFeedbackResponse(BaseModel):
    feedback: str = Field(
        description="Five sections in order: Overall Assessment, Strengths, Areas for "
        "Improvement, Study Recommendations (numbered), Next Steps to <next level>"
    )


class ConversationTopicsRequest(BaseModel):
    model_config = STRICT_REQUEST

    level: Level
    interests: list[Name] = Field(
        min_length=1, max_length=MAX_INTERESTS, description="What the learner likes to talk about"
    )
    language: Name = Field(default="English", description="The language the topics are in")
    count: int = Field(default=5, ge=1, le=MAX_TOPICS, description="How many topics")
    model: ModelField = None


class ConversationTopicsResponse(BaseModel):
    topics: list[str] = Field(description="`count` distinct questions or prompts")


class SessionSummaryRequest(BaseModel):
    model_config = STRICT_REQUEST

    transcript: str = Field(
        min_length=1,
        max_length=MAX_TRANSCRIPT_CHARS,
        description="The session, speakers labelled (`Student: ... Teacher: ...`)",
    )
    duration: float = Field(ge=0, description="Session length in seconds")
    participants: list[Name] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description="Participant names; transcript labels are matched to them",
    )
    model: ModelField = None

    @field_validator("transcript")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain some text, not only whitespace")
        return value

    @field_validator("participants")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in value:
            key = name_key(name) or name  # how transcript labels are matched to names
            if key in seen:
                raise ValueError(f"names must be distinct; {name!r} appears twice")
            seen.add(key)
        return value


class SessionSummaryResponse(BaseModel):
    keyPoints: list[str]
    vocabularyUsed: list[str] = Field(description="Only words that occur in the transcript")
    grammarPatterns: list[str]
    speakingTime: dict[str, int] = Field(
        description="Share of the words spoken per participant, whole percentages summing "
        "to 100 (computed, not generated)"
    )
    suggestions: list[str]
    overallRating: int = Field(ge=1, le=10)
