"""The facts code computes for the language-learning endpoints, without a model."""

from __future__ import annotations

import pytest

from llm_api.schemas.tutor import CefrLevel, parse_level
from llm_api.services.tutor import scores
from llm_api.services.tutor.levels import next_goal, next_level
from llm_api.services.tutor.speaking_time import (
    find_turns,
    match_participant,
    speaking_time,
    whole_percentages,
)
from llm_api.services.tutor.summary import split_transcript
from llm_api.services.tutor.vocabulary import Transcript, used_vocabulary
from llm_api.services.tutor.wording import one_line, sentence
from tests.support.tutor_seed import SEED_ANALYSIS, SEED_PARTICIPANTS

SEED_TRANSCRIPT = (
    "Student: Hello, how are you today? Teacher: I'm doing well, thank you. How was your "
    "weekend? Student: It was great! I went to the park with my family..."
)


# -- levels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [("A1", "A2"), ("A2", "B1"), ("B1", "B2"), ("B2", "C1"), ("C1", "C2")],
)
def test_next_level_is_the_one_above(level, expected):
    assert next_level(CefrLevel(level)) == CefrLevel(expected)
    assert next_goal(CefrLevel(level)) == expected


def test_c2_has_no_next_level_but_a_mastery_goal():
    assert next_level(CefrLevel.C2) is None
    assert next_goal(CefrLevel.C2) == "C2 Mastery"


@pytest.mark.parametrize("text", ["b1", "B1", " b1 ", "B1\n"])
def test_levels_parse_in_any_case(text):
    assert parse_level(text) is CefrLevel.B1


@pytest.mark.parametrize("text", ["B3", "D1", "", "intermediate", "B 1"])
def test_unknown_levels_are_refused(text):
    with pytest.raises(ValueError, match="CEFR level"):
        parse_level(text)


# -- strengths and areas for improvement ------------------------------------------------


def test_strengths_are_the_highest_scores_highest_first():
    assert [(s.key, s.value) for s in scores.strengths(SEED_ANALYSIS)] == [
        ("taskAchievement", 78),
        ("grammar", 75),
    ]


def test_weaknesses_are_the_lowest_scores_lowest_first():
    assert [(s.key, s.value) for s in scores.weaknesses(SEED_ANALYSIS)] == [
        ("pronunciation", 65),
        ("vocabulary", 68),
    ]


def test_ties_keep_the_seed_order_of_skills():
    tied = dict.fromkeys(SEED_ANALYSIS, 70) | {"interaction": 90, "fluency": 50}
    assert [s.key for s in scores.strengths(tied)] == ["interaction", "grammar"]
    assert [s.key for s in scores.weaknesses(tied)] == ["fluency", "vocabulary"]


def test_a_skill_is_never_both_a_strength_and_a_weakness():
    equal = dict.fromkeys(SEED_ANALYSIS, 60)
    top = {s.key for s in scores.strengths(equal)}
    low = {s.key for s in scores.weaknesses(equal)}
    assert top == {"grammar", "vocabulary"}
    assert low == {"fluency", "pronunciation"}


@pytest.mark.parametrize(("value", "shown"), [(75, "75"), (75.0, "75"), (72.5, "72.5")])
def test_scores_are_shown_without_needless_decimals(value, shown):
    assert scores.format_score(value) == shown


# -- speaking time -----------------------------------------------------------------------


def test_seed_example_counts_real_words():
    # Student: "Hello how are you today" (5) + "It was great I went to the park with my
    # family" (11) = 16; Teacher: "I'm doing well thank you How was your weekend" = 9.
    result = speaking_time(SEED_TRANSCRIPT, SEED_PARTICIPANTS)
    assert result.words == {"Student123": 16, "Teacher456": 9}
    assert result.percent == {"Student123": 64, "Teacher456": 36}
    assert result.unattributed_words == 0


def test_seed_labels_are_found_inline():
    _, turns = find_turns(SEED_TRANSCRIPT, SEED_PARTICIPANTS)
    assert [(t.label, t.speaker) for t in turns] == [
        ("Student", "Student123"),
        ("Teacher", "Teacher456"),
        ("Student", "Student123"),
    ]


def test_line_labels_in_lowercase_with_spaces_timestamps_and_bullets():
    transcript = (
        "student : one two three\n"
        "  TEACHER:four five\n"
        "[00:12] Student: six\n"
        "- teacher 456 : seven eight\n"
    )
    result = speaking_time(transcript, SEED_PARTICIPANTS)
    assert result.words == {"Student123": 4, "Teacher456": 4}
    assert result.percent == {"Student123": 50, "Teacher456": 50}


def test_inline_label_without_punctuation_before_it():
    result = speaking_time("Student: hi there Teacher: hello Student: bye", SEED_PARTICIPANTS)
    assert result.words == {"Student123": 3, "Teacher456": 1}


def test_a_multi_line_turn_belongs_to_its_speaker():
    transcript = "Teacher: first line\nsecond line here\nStudent: ok"
    result = speaking_time(transcript, SEED_PARTICIPANTS)
    assert result.words == {"Student123": 1, "Teacher456": 5}


def test_colons_in_speech_are_not_labels():
    transcript = (
        "Teacher: He said: no. The meeting is at 10:30, see https://x.org\n"
        "It was great: really\nStudent: ask the student: fine"
    )
    _, turns = find_turns(transcript, SEED_PARTICIPANTS)
    assert [t.speaker for t in turns] == ["Teacher456", "Student123"]


def test_a_participant_who_never_speaks_gets_zero():
    result = speaking_time("Student: I talk alone today.", ["Student123", "Teacher456"])
    assert result.percent == {"Student123": 100, "Teacher456": 0}


def test_unknown_labels_are_not_attributed_to_anyone():
    transcript = "Student: one two. Parent: three four five. Teacher: six. Parent: seven"
    result = speaking_time(transcript, SEED_PARTICIPANTS)
    assert result.words == {"Student123": 2, "Teacher456": 1}
    assert result.unattributed_words == 4
    assert result.percent == {"Student123": 67, "Teacher456": 33}


def test_without_any_label_time_is_split_evenly():
    result = speaking_time("hello there, nobody is labelled", ["Ann", "Bob", "Cid"])
    assert result.percent == {"Ann": 34, "Bob": 33, "Cid": 33}
    assert result.unattributed_words == 5


def test_one_participant_always_has_everything():
    assert speaking_time("no labels at all", ["Solo"]).percent == {"Solo": 100}


def test_three_participants_round_to_exactly_one_hundred():
    transcript = "Ann: a\nBob: b\nCid: c"
    assert speaking_time(transcript, ["Ann", "Bob", "Cid"]).percent == {
        "Ann": 34,
        "Bob": 33,
        "Cid": 33,
    }


@pytest.mark.parametrize(
    "counts",
    [
        {"a": 1, "b": 1, "c": 1},
        {"a": 2, "b": 2, "c": 2, "d": 1},
        {"a": 1, "b": 5, "c": 7, "d": 11, "e": 13, "f": 17},
        {"a": 999, "b": 1},
        {"a": 0, "b": 0},
    ],
)
def test_largest_remainder_rounding_sums_to_one_hundred(counts):
    percent = whole_percentages(counts)
    assert sum(percent.values()) == 100
    assert list(percent) == list(counts)
    total = sum(counts.values()) or len(counts)
    for name, count in counts.items():
        exact = 100 * (count if sum(counts.values()) else 1) / total
        assert abs(percent[name] - exact) < 1


def test_largest_remainder_gives_the_extra_point_to_the_largest_remainder():
    # exact shares 14.28.., 28.57.., 57.14..: floors 14, 28, 57 = 99; .57 is the largest
    assert whole_percentages({"a": 1, "b": 2, "c": 4}) == {"a": 14, "b": 29, "c": 57}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Student", "Student123"),
        ("student", "Student123"),
        ("STUDENT123", "Student123"),
        ("Teacher 456", "Teacher456"),
        ("T", "Teacher456"),
        ("Studnt", "Student123"),  # longest common prefix
        ("Parent", None),
        ("", None),
    ],
)
def test_labels_match_participants(label, expected):
    assert match_participant(label, SEED_PARTICIPANTS) == expected


def test_an_ambiguous_label_matches_nobody():
    assert match_participant("Student", ["Student1", "Student2"]) is None
    assert match_participant("Student1", ["Student1", "Student2"]) == "Student1"


# -- vocabulary -------------------------------------------------------------------------


def test_vocabulary_keeps_only_words_in_the_transcript():
    transcript = Transcript(SEED_TRANSCRIPT, SEED_PARTICIPANTS)
    proposed = ["weekend", "Family", "park", "holiday", "the", "went to the park", "cinema"]
    assert used_vocabulary(proposed, transcript) == [
        "weekend",
        "family",
        "park",
        "went to the park",
    ]


def test_vocabulary_is_case_insensitive_and_deduplicated():
    transcript = Transcript("Student: Paris is lovely. I love paris!", ["Student"])
    assert used_vocabulary(["paris", "PARIS", " Paris. ", "lovely"], transcript) == [
        "Paris",
        "lovely",
    ]


def test_speaker_labels_are_not_vocabulary():
    transcript = Transcript(SEED_TRANSCRIPT, SEED_PARTICIPANTS)
    assert used_vocabulary(["Student", "Teacher", "Student123"], transcript) == []
    spoken = Transcript("Student: My teacher is kind. Teacher: Thanks!", SEED_PARTICIPANTS)
    assert used_vocabulary(["teacher"], spoken) == ["teacher"]


def test_vocabulary_phrases_do_not_span_turns():
    transcript = Transcript("Student: I like\nTeacher: cake is good", SEED_PARTICIPANTS)
    assert used_vocabulary(["like cake", "cake"], transcript) == ["cake"]


def test_vocabulary_candidates_are_content_words_frequent_then_long_first():
    transcript = Transcript(
        "Student: I visited Paris and the Louvre. Teacher: Paris! Did you like it? "
        "Student: Yes, the Louvre was wonderful. paris is big.",
        SEED_PARTICIPANTS,
    )
    assert transcript.candidates(10) == [
        "paris",
        "Louvre",
        "wonderful",
        "visited",
        "like",
        "big",
    ]
    assert transcript.candidates(2) == ["paris", "Louvre"]


def test_vocabulary_limit():
    transcript = Transcript(SEED_TRANSCRIPT, SEED_PARTICIPANTS)
    assert used_vocabulary(["park", "family", "weekend"], transcript, limit=2) == [
        "park",
        "family",
    ]


# -- splitting long transcripts and tidying wording ---------------------------------------


def test_long_transcripts_split_at_line_ends_into_similar_parts():
    lines = [f"{'Student' if i % 2 else 'Teacher'}: sentence number {i} here." for i in range(200)]
    text = "\n".join(lines)
    parts = split_transcript(text, 2_500)
    assert "".join(parts) == text
    assert all(len(part) <= 2_500 for part in parts)
    assert len(parts) == -(-len(text) // 2_500)
    assert all(part.endswith("\n") for part in parts[:-1])


def test_a_transcript_without_newlines_splits_at_sentence_ends():
    text = " ".join(f"Student: this is sentence {i}." for i in range(300))
    parts = split_transcript(text, 1_000)
    assert "".join(parts) == text
    assert all(part.rstrip().endswith(".") for part in parts)


def test_a_short_transcript_is_one_part():
    assert split_transcript(SEED_TRANSCRIPT, 10_000) == [SEED_TRANSCRIPT]


def test_model_text_becomes_one_clean_line():
    assert one_line("  1. Practise\n\nStrengths: daily ") == "Practise Strengths: daily"
    assert one_line('"quoted"') == "quoted"
    assert sentence("- Read more") == "Read more."
    assert sentence("What do you cook", end="?") == "What do you cook?"
    assert sentence("Really!") == "Really!"
