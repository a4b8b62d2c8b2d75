"""The embedded model's token log-probabilities, as arithmetic (no model: numpy only).

``score`` is the log-softmax of the last logits at the sampled token and at the best
``top``; ``TokenScores`` sends each entry once its text has gone out, and never the
tokens of a stop sequence (issue 15, item 4).
"""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy", reason="the embedded backend's logprobs need numpy ([local])")

from llm_api.platform.embedded.logprobs import (  # noqa: E402
    MIN_LOGPROB,
    TokenScores,
    score,
)

VOCAB = [b"A", b" cat", b" is", b"\xe2\x80", b"\x99", b"<|im_end|>"]


def token_bytes(token: int) -> bytes:
    return VOCAB[token]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    wide = logits.astype(np.float64)
    return wide - np.log(np.exp(wide - wide.max()).sum()) - wide.max()


def test_score_is_the_log_softmax_at_the_token_and_the_best():
    logits = np.array([2.0, 5.0, 1.0, -3.0, 4.5, 0.0], dtype=np.float32)
    expected = log_softmax(logits)
    entry = score(logits, 2, 3, token_bytes)
    assert entry["token"] == " is" and entry["bytes"] == list(b" is")
    assert entry["logprob"] == pytest.approx(expected[2], abs=1e-6)
    assert [alt["token"] for alt in entry["top_logprobs"]] == [" cat", "\ufffd", "A"]
    assert [alt["logprob"] for alt in entry["top_logprobs"]] == pytest.approx(
        [expected[1], expected[4], expected[0]], abs=1e-6
    )
    assert entry["top_logprobs"][1]["bytes"] == [0x99]  # half a character: its bytes kept


def test_score_without_alternatives_has_an_empty_list():
    logits = np.zeros(6, dtype=np.float32)
    entry = score(logits, 0, 0, token_bytes)
    assert entry["top_logprobs"] == []
    assert entry["logprob"] == pytest.approx(np.log(1 / 6), abs=1e-6)


def test_a_certain_token_is_zero_and_an_impossible_one_is_floored_never_infinite():
    logits = np.array([0.0, 1e4, 0.0, 0.0, 0.0, -np.inf], dtype=np.float32)
    assert score(logits, 1, 0, token_bytes)["logprob"] == 0.0
    assert score(logits, 5, 0, token_bytes)["logprob"] == MIN_LOGPROB
    assert score(logits, 0, 0, token_bytes)["logprob"] == MIN_LOGPROB  # -1e4 is below it


def scores_of(pieces: list[tuple[int, int]], top: int = 0) -> tuple[TokenScores, list]:
    sent: list = []
    scores = TokenScores(top, token_bytes, sent.append)
    logits = np.zeros(len(VOCAB), dtype=np.float32)
    for token, characters in pieces:
        scores.add_scored(score(logits, token, top, token_bytes), characters)
    return scores, sent


def test_an_entry_is_sent_once_its_text_begins_to_go_out():
    scores, sent = scores_of([(0, 1), (1, 4)])
    scores.send(0)  # everything held back (a stop sequence may begin at "A")
    assert sent == []
    scores.send(1)  # "A" went out; " cat" is still held
    assert [[entry["token"] for entry in batch] for batch in sent] == [["A"]]
    scores.send()  # the end: the rest
    assert [entry["token"] for entry in sent[1]] == [" cat"]


def test_the_tokens_of_a_stop_sequence_are_never_sent():
    scores, sent = scores_of([(0, 1), (1, 4), (2, 3)])
    scores.send(1)  # the answer was cut after "A": " cat is" was the stop sequence
    assert [entry["token"] for batch in sent for entry in batch] == ["A"]


def test_a_token_that_decodes_to_nothing_yet_goes_with_the_character_it_begins():
    scores, sent = scores_of([(3, 0), (4, 1)])  # "’" in two tokens: 0, then 1 character
    scores.send(1)
    assert [entry["bytes"] for entry in sent[0]] == [[0xE2, 0x80], [0x99]]


def test_top_logprobs_are_bounded_by_openais_20():
    assert TokenScores(50, token_bytes, print).top == 20
