"""Code's fallback sentences pass the wording check themselves, whatever the facts."""

from __future__ import annotations

import itertools

import pytest

from llm_api.schemas.tutor import CefrLevel, ConversationTopicsRequest
from llm_api.schemas.v1 import OptimizePromptRequest
from llm_api.services.prompts import cue_slots
from llm_api.services.slots import Slot
from llm_api.services.tutor import summary_slots
from llm_api.services.tutor.feedback_slots import feedback_slots
from llm_api.services.tutor.scores import SKILLS
from llm_api.services.tutor.topics import shares, topic_slots
from llm_api.services.wording_check import problems
from tests.support.wording_cases import LONG_TRANSCRIPT, SHORT_TRANSCRIPT


def assert_fallbacks_pass(slots: list[Slot]) -> None:
    earlier: list[str] = []
    for slot in slots:
        assert problems(slot.fallback, slot.expect, earlier) == [], slot.fallback
        earlier.append(slot.fallback)


@pytest.mark.parametrize("level", list(CefrLevel))
def test_feedback_fallbacks_pass_for_every_ranking(level: CefrLevel) -> None:
    keys = [key for key, _ in SKILLS]
    for order in itertools.islice(itertools.permutations(range(6)), 0, 720, 37):
        analysis = {key: 50.0 + 5 * rank for key, rank in zip(keys, order, strict=True)}
        slots = feedback_slots(analysis, level)
        assert_fallbacks_pass([slot for group in slots.values() for slot in group])


def test_topic_fallbacks_are_distinct_questions_about_their_interest() -> None:
    for interests, count in [(["cooking"], 10), (["technology", "travel", "cooking"], 5)]:
        request = ConversationTopicsRequest(level="B1", interests=interests, count=count)
        slots = topic_slots(shares(request.interests, count), request.level, "English")
        assert len(slots) == count
        assert_fallbacks_pass(slots)


def test_summary_fallbacks_pass() -> None:
    for transcript in (SHORT_TRANSCRIPT, LONG_TRANSCRIPT):
        participants = ["Student", "Teacher"]
        words = ["park", "family", "picnic"]
        patterns = summary_slots.grammar_patterns(transcript)
        slots = [
            summary_slots.key_point_slot(w, summary_slots.excerpt(transcript, participants, w))
            for w in words
        ]
        assert_fallbacks_pass(slots + summary_slots.suggestion_slots(patterns, words))


def test_grammar_patterns_are_found_in_the_transcript() -> None:
    names = [found.name for found in summary_slots.grammar_patterns(LONG_TRANSCRIPT, limit=8)]
    assert names[:3] == [
        "Present perfect tense",
        "Past simple tense",
        "Conditional sentences with if",
    ]
    assert "Future with going to" in names
    assert summary_slots.grammar_patterns("Student: Hello.")[0].name == "Present simple tense"


@pytest.mark.parametrize("kind", ["image", "video"])
def test_prompt_fallbacks_pass(kind: str) -> None:
    request = OptimizePromptRequest(prompt="a red fox sleeping in the snow", type=kind)
    assert_fallbacks_pass(list(cue_slots(request).values()))
