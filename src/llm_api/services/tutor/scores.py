"""The six assessment scores: names, strengths and areas for improvement.

Strengths are the highest scores, areas for improvement the lowest among the rest, so a
skill is never both. Ties keep the order of ``SKILLS`` (the seed's order), so the same
scores always give the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: (field name, how feedback names it), in the seed's order
SKILLS: tuple[tuple[str, str], ...] = (
    ("grammar", "Grammar"),
    ("vocabulary", "Vocabulary"),
    ("fluency", "Fluency"),
    ("pronunciation", "Pronunciation"),
    ("taskAchievement", "Task achievement"),
    ("interaction", "Interaction"),
)

#: how many skills each of "Strengths" and "Areas for Improvement" lists
HIGHLIGHTED = 2


@dataclass(frozen=True, slots=True)
class Score:
    key: str
    label: str
    value: float

    @property
    def shown(self) -> str:
        """``75`` for whole numbers, ``72.5`` otherwise."""
        return format_score(self.value)


def format_score(value: float) -> str:
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def all_scores(analysis: Mapping[str, float]) -> list[Score]:
    return [Score(key, label, analysis[key]) for key, label in SKILLS]


def strengths(analysis: Mapping[str, float], count: int = HIGHLIGHTED) -> list[Score]:
    """The ``count`` highest scores, highest first."""
    ranked = sorted(enumerate(all_scores(analysis)), key=lambda item: (-item[1].value, item[0]))
    return [score for _, score in ranked[:count]]


def weaknesses(analysis: Mapping[str, float], count: int = HIGHLIGHTED) -> list[Score]:
    """The ``count`` lowest scores that are not strengths, lowest first."""
    excluded = {score.key for score in strengths(analysis, count)}
    rest = [(i, s) for i, s in enumerate(all_scores(analysis)) if s.key not in excluded]
    ranked = sorted(rest, key=lambda item: (item[1].value, item[0]))
    return [score for _, score in ranked[:count]]


def average(analysis: Mapping[str, float]) -> float:
    return sum(analysis[key] for key, _ in SKILLS) / len(SKILLS)
