"""Stop sequences on the embedded backend (issue 12, finding 5).

A 990 KB stop string used to cost seconds per token (``StopMatcher.feed`` compared
every prefix of every sequence with the text again for each token) and blocked the one
generation thread. Now ``stop`` is bounded (count and length, a 400 naming ``stop``)
and matching costs time linear in the text fed. The matcher is checked against a naive
one for every way of cutting the text into pieces.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_api.errors import InvalidRequest
from llm_api.platform.embedded.request import (
    MAX_STOP_CHARS,
    MAX_STOP_SEQUENCES,
    StopMatcher,
    prepare,
    stop_sequences,
)


def naive_cut(text: str, stops: list[str]) -> tuple[str, bool]:
    """The text up to where the first stop sequence begins, among those ending first."""
    stops = [stop for stop in stops if stop]
    for end in range(1, len(text) + 1):
        ended = [len(stop) for stop in stops if text[:end].endswith(stop)]
        if ended:
            return text[: end - max(ended)], True
    return text, False


def matched(pieces: list[str], stops: list[str]) -> tuple[str, bool, list[str]]:
    """Feed ``pieces``: the text let through, whether a stop hit, and what each feed gave."""
    matcher = StopMatcher(stops)
    given_out = []
    for piece in pieces:
        out, hit = matcher.feed(piece)
        given_out.append(out)
        if hit:
            return "".join(given_out), True, given_out
    return "".join(given_out) + matcher.flush(), False, given_out


@given(
    pieces=st.lists(st.text(alphabet="abc", max_size=6), max_size=12),
    stops=st.lists(st.text(alphabet="abc", max_size=5), max_size=4),
)
def test_stop_matcher_agrees_with_a_naive_matcher_for_any_pieces(
    pieces: list[str], stops: list[str]
) -> None:
    text, hit, _outputs = matched(pieces, stops)

    assert (text, hit) == naive_cut("".join(pieces), stops)


@given(
    pieces=st.lists(st.text(alphabet="ab", max_size=4), max_size=20),
    stop=st.text(alphabet="ab", min_size=1, max_size=6),
)
def test_stop_matcher_holds_back_less_than_the_longest_stop(pieces: list[str], stop: str) -> None:
    matcher = StopMatcher([stop])
    for piece in pieces:
        _out, hit = matcher.feed(piece)
        if hit:
            break
        assert len(matcher.held) < len(stop)
        assert stop[: len(matcher.held)] == matcher.held


def test_stop_spanning_pieces_is_cut_before_it() -> None:
    assert matched(["Hello, wo", "rl", "d! More"], ["world"]) == (
        "Hello, ",
        True,
        ["Hello, ", "", ""],
    )
    # A prefix that turns out not to be a stop is let through, late but whole.
    assert matched(["a wor", "m"], ["world"])[:2] == ("a worm", False)
    # Overlapping candidates: "abab" restarts inside itself.
    assert matched(["aba", "bab"], ["abab"])[:2] == ("", True)
    assert matched(["xaab"], ["ab", "aab"])[:2] == ("x", True)


def test_long_stop_string_costs_time_linear_in_the_text() -> None:
    stop = "x" * MAX_STOP_CHARS  # the longest allowed, almost matched over and over
    stops = [stop[:-1] + str(i) for i in range(MAX_STOP_SEQUENCES)]
    matcher = StopMatcher(stops)
    started = time.perf_counter()
    for _ in range(2000):  # 2,000 tokens, each a near miss for every stop
        _out, hit = matcher.feed("xx")
        assert not hit
    elapsed = time.perf_counter() - started
    # Quadratic matching took seconds for one token with a 990 KB stop; this is 4,000
    # characters against 16 sequences of 1,000: about 64,000 steps, well under a second.
    assert elapsed < 1.0, elapsed
    assert len(matcher.held) == MAX_STOP_CHARS - 1


def test_a_990_kb_stop_string_no_longer_stalls_feeding() -> None:
    matcher = StopMatcher(["y" * 990_000])
    started = time.perf_counter()
    for _ in range(50):
        matcher.feed("y")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        (["s"] * (MAX_STOP_SEQUENCES + 1), f"at most {MAX_STOP_SEQUENCES}"),
        ("x" * 990_000, f"a sequence is 990000 characters; the embedded model allows at most "
         f"{MAX_STOP_CHARS} characters"),
        (["ok", "x" * (MAX_STOP_CHARS + 1)], f"at most {MAX_STOP_CHARS} characters"),
        ([1, 2], "stop must be a string or a list of strings"),
        ({"a": 1}, "stop must be a string or a list of strings"),
    ],
)  # fmt: skip
def test_stop_beyond_the_bounds_is_refused_naming_stop(stop: object, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        stop_sequences(stop)
    assert caught.value.param == "stop" and caught.value.status == 400
    assert message in caught.value.message


def test_stop_within_the_bounds_is_kept() -> None:
    assert stop_sequences(None) == [] and stop_sequences("") == []
    assert stop_sequences("\n") == ["\n"]
    longest = ["x" * MAX_STOP_CHARS] * MAX_STOP_SEQUENCES
    assert stop_sequences(["", *longest[1:]]) == longest[1:]


def test_prepare_refuses_a_long_stop_before_rendering_the_prompt() -> None:
    def never(*_args: object) -> object:
        raise AssertionError("reached")

    with pytest.raises(InvalidRequest) as caught:
        prepare(
            {"prompt": "hi", "stop": ["x" * 990_000]},
            render=never,
            tokenize=never,
            n_ctx=8192,
            grammar=never,
        )
    assert caught.value.param == "stop"
