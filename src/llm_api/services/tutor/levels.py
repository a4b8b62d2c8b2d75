"""CEFR levels: their names, what each can do, and what comes next (the levels and
their parsing are part of the request schema, ``llm_api.schemas.tutor``)."""

from __future__ import annotations

from llm_api.schemas.tutor import CefrLevel

#: the Council of Europe's names for the six levels
LEVEL_NAMES: dict[CefrLevel, str] = {
    CefrLevel.A1: "Beginner",
    CefrLevel.A2: "Elementary",
    CefrLevel.B1: "Intermediate",
    CefrLevel.B2: "Upper Intermediate",
    CefrLevel.C1: "Advanced",
    CefrLevel.C2: "Proficiency",
}

#: what a learner at each level can do, for prompts that must pitch language right
CAN_DO: dict[CefrLevel, str] = {
    CefrLevel.A1: "very short, simple present-tense questions about everyday things",
    CefrLevel.A2: "short, simple questions about routines, family, shopping and past events",
    CefrLevel.B1: "clear questions about experiences, plans and opinions on familiar topics",
    CefrLevel.B2: "questions that invite arguments, comparisons and hypothetical situations",
    CefrLevel.C1: "nuanced questions on complex or abstract topics that need precise language",
    CefrLevel.C2: "subtle, open-ended prompts about abstract, specialised or cultural subjects",
}

_ORDER = list(CefrLevel)


def next_level(level: CefrLevel) -> CefrLevel | None:
    """The level after ``level``; ``None`` after C2, the top of the scale."""
    index = _ORDER.index(level)
    return _ORDER[index + 1] if index + 1 < len(_ORDER) else None


def next_goal(level: CefrLevel) -> str:
    """The heading's goal: the next level, or mastery for a C2 learner."""
    following = next_level(level)
    return following.value if following else "C2 Mastery"
