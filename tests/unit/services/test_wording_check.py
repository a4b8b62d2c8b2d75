"""The wording check (issue 17): what every sentence a model writes into an answer must pass."""

from __future__ import annotations

from llm_api.services.wording_check import Expect, mentions, passes, problems

GRAMMAR = Expect(subject=("Grammar",))


def test_a_plain_sentence_about_its_subject_passes() -> None:
    assert problems("Your grammar is accurate, even in long sentences.", GRAMMAR) == []


def test_schema_keys_and_json_punctuation_are_refused() -> None:
    # the issue's own examples, and other ways a model echoes a schema
    for text in [
        "strengths: speaking practice (to score.",
        "Grammar ](#grammar-improvement-overall-grammar).",
        "The next_steps field says grammar matters.",
        "Your keyPoints about grammar are good.",
        '{"overall": "Your grammar is good."}',
        "Grammar is the interest_0 of this answer.",
    ]:
        assert "it echoes the schema (field names or JSON punctuation)" in problems(
            text, GRAMMAR
        ), text


def test_a_repeated_sentence_is_refused() -> None:
    earlier = ["You complete each task fully and stay on topic."]
    task = Expect(subject=("Task achievement",))
    assert "it repeats an earlier sentence" in problems(
        "you complete each task FULLY, and stay on topic!", task, earlier
    )
    assert passes("You finish every task you are given.", task, earlier)


def test_fewer_than_four_words_are_refused() -> None:
    assert "it has fewer than 4 words" in problems("Grammar is good.", GRAMMAR)


def test_a_sentence_ends_with_sentence_punctuation_and_a_question_with_a_question_mark() -> None:
    assert "it does not end with . or ! or ?" in problems("Your grammar is accurate", GRAMMAR)
    question = Expect(subject=("travel",), kind="question")
    assert "it does not end with ?" in problems("Tell me about your last travel.", question)
    assert passes("Where would you like to travel next year?", question)


def test_a_sentence_must_mention_its_subject() -> None:
    # the "right sentence, wrong skill"
    vocabulary = Expect(subject=("Vocabulary",))
    found = problems("You complete each task fully and stay on topic.", vocabulary)
    assert found == ["it does not mention Vocabulary"]


def test_a_subject_is_mentioned_by_its_stem() -> None:
    assert mentions("You speak fluently on familiar topics.", ["Fluency"])
    assert mentions("What do you like to cook at weekends?", ["cooking"])
    assert mentions("Your task answers are complete.", ["Task achievement"])
    assert not mentions("You speak clearly.", ["pronunciation"])


def test_digits_are_refused_where_code_writes_the_numbers() -> None:
    assert "it writes a number, which code writes" in problems(
        "Your grammar at 90% is excellent for B2.", GRAMMAR
    )
    lens = Expect(subject=("lens",), kind="phrase", min_words=2, digits=True)
    assert passes("35mm lens with a shallow depth of field", lens)


def test_a_word_loop_is_refused() -> None:
    loop = "For your pronunciation, try this pronoun pronoun pronoun pronoun pronoun."
    assert "it repeats a word over and over" in problems(loop, Expect(subject=("pronunciation",)))
