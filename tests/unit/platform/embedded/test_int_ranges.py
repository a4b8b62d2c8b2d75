"""The range grammars for bounded integers and numbers (client-compatibility finding).

llama-cpp-python's converter wrote ``minimum``/``maximum`` as any integer, so a strict
1..5 score came back as 100. Each range grammar here is turned into a regular
expression by a small translator (the expressions use only literals, digit classes,
groups, ``|``, ``?`` and ``{m,n}``, which mean the same in both) and checked against
exact arithmetic: exhaustively for small ranges, by sampling near and between the
bounds for large ones. ``test_range_grammars_compile_in_llama_cpp`` (in
test_schema_support.py, llama marker) compiles them in llama.cpp itself.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from functools import cache

import pytest

from llm_api.platform.embedded import limits
from llm_api.platform.embedded.int_ranges import (
    LARGEST,
    EmptyRange,
    integer_range,
    number_range,
)

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\[[^\]]*\])|(\{\d+(?:,\d*)?\})|([()|?])|(\s+)')


def to_regex(gbnf: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(gbnf):
        match = _TOKEN.match(gbnf, i)
        assert match, f"unexpected GBNF at {gbnf[i : i + 20]!r}"
        literal, klass, count, operator, _ = match.groups()
        if literal is not None:
            out.append(f"(?:{re.escape(literal)})")
        elif klass or count:
            out.append(klass or count)
        elif operator:
            out.append("(?:" if operator == "(" else operator)
        i = match.end()
    return re.compile("".join(out))


@cache
def integer_matcher(low: int | None, high: int | None) -> re.Pattern[str]:
    return to_regex(integer_range(low, high))


def accepts(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text) is not None


SMALL_BOUNDS = [None, -1001, -1000, -999, -101, -100, -99, -37, -10, -9, -1, 0, 1, 5, 9,
                10, 11, 37, 99, 100, 101, 999, 1000, 1001]  # fmt: skip


@pytest.mark.parametrize("low", SMALL_BOUNDS)
def test_integer_range_accepts_exactly_the_integers_between_the_bounds(low: int | None) -> None:
    for high in SMALL_BOUNDS:
        if low is not None and high is not None and low > high:
            continue
        pattern = integer_matcher(low, high)
        for n in range(-1200, 1201):
            inside = (low is None or n >= low) and (high is None or n <= high)
            assert accepts(pattern, str(n)) == inside, (low, high, n)


def test_integer_range_never_writes_a_leading_zero_or_minus_zero() -> None:
    pattern = integer_matcher(-100, 100)
    for text in ["-0", "00", "01", "-01", "007", "+1", "1.0", "1e1", ""]:
        assert not accepts(pattern, text), text


def test_the_finding_score_1_to_5_allows_nothing_else() -> None:
    pattern = integer_matcher(1, 5)
    assert [n for n in range(-1000, 10_000) if accepts(pattern, str(n))] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", range(6))
def test_large_integer_ranges_by_sampling_near_and_between_the_bounds(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20):
        low, high = sorted(rng.randint(-(10 ** rng.randint(1, 16)), 10 ** rng.randint(1, 16))
                           for _ in range(2))  # fmt: skip
        pattern = to_regex(integer_range(low, high))
        near = [b + d for b in (low, high, 0) for d in range(-3, 4)]
        spread = [rng.randint(low - (high - low), high + (high - low)) for _ in range(200)]
        for n in near + spread:
            inside = low <= n <= high and abs(n) <= LARGEST
            assert accepts(pattern, str(n)) == inside, (low, high, n)


def test_one_sided_bounds_stop_at_the_converters_sixteen_digits() -> None:
    at_least = integer_matcher(-5, None)
    assert accepts(at_least, str(LARGEST)) and not accepts(at_least, str(LARGEST + 1))
    assert accepts(at_least, "-5") and not accepts(at_least, "-6")
    at_most = integer_matcher(None, 7)
    assert accepts(at_most, str(-LARGEST)) and not accepts(at_most, "8")


def test_huge_range_grammar_is_small_and_shallow() -> None:
    gbnf = integer_range(-(10**15), 10**15)
    assert len(gbnf) < 5_000 and limits.gbnf_nesting(gbnf) < 40
    pattern = to_regex(gbnf)
    assert accepts(pattern, str(10**15)) and not accepts(pattern, str(10**15 + 1))
    assert accepts(pattern, str(-(10**15))) and not accepts(pattern, str(-(10**15) - 1))


def test_empty_integer_range_is_refused() -> None:
    with pytest.raises(EmptyRange):
        integer_range(5, 1)
    with pytest.raises(EmptyRange):
        integer_range(LARGEST + 1, None)


NUMBER_TEXTS = ["0", "-0", "0.0", "-0.0", "0.5", "-0.5", "0.0001", "1", "1.0", "1.00", "1.01",
                "-1", "-1.0", "-1.5", "2", "4.99", "5", "5.0", "5.000001", "9.5", "10", "-10",
                "-9.99", "-10.0", "-10.01", "99.9", "100", "100.0", "100.5", "01", "1.", ".5",
                "1e1", "-"]  # fmt: skip
NUMBER_BOUNDS = [-10, -1, 0, 1, 5, 10, 100]


def exact(text: str) -> Decimal | None:
    valid = re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?", text)
    return Decimal(text) if valid else None


@pytest.mark.parametrize("low_open", [False, True])
@pytest.mark.parametrize("high_open", [False, True])
def test_number_range_with_whole_bounds_accepts_exactly_the_numbers_between(
    low_open: bool, high_open: bool
) -> None:
    for low in NUMBER_BOUNDS:
        for high in NUMBER_BOUNDS:
            if low > high or (low == high and (low_open or high_open)):
                continue
            pattern = to_regex(number_range(low, high, low_open=low_open, high_open=high_open))
            for text in NUMBER_TEXTS:
                value = exact(text)
                inside = value is not None and (
                    (value > low if low_open else value >= low)
                    and (value < high if high_open else value <= high)
                )
                # "-0" may be left out (it is 0); nothing outside may be let in
                negative_zero = value == 0 and text.startswith("-")
                if (inside and not negative_zero) or accepts(pattern, text):
                    assert accepts(pattern, text) == inside, (low, high, low_open, high_open, text)


def test_one_sided_number_ranges() -> None:
    positive = to_regex(number_range(0, None, low_open=True))
    assert accepts(positive, "0.5") and accepts(positive, "12345.25")
    assert not accepts(positive, "0") and not accepts(positive, "-0.5")
    below = to_regex(number_range(None, 0, high_open=True))
    assert accepts(below, "-0.01") and not accepts(below, "-0") and not accepts(below, "0")


def test_empty_number_range_is_refused() -> None:
    with pytest.raises(EmptyRange):
        number_range(1, 1, low_open=True)
    with pytest.raises(EmptyRange):
        number_range(2, 1)
