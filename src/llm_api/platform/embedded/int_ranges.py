"""GBNF for JSON numbers between bounds, which llama-cpp-python's converter leaves out.

Its converter writes ``{"type": "integer", "minimum": 1, "maximum": 5}`` as any integer
(a TODO in its source), so the model answered ``100``. llama.cpp's own converter
(``_build_min_max_int`` in json-schema-to-grammar.cpp) splits a range into runs of
equal length and, within one, branches on the first digit where the bounds differ; this
is the same idea, with both sides always bounded: an unbounded side stops at the 16
digits llama-cpp-python's integer rule writes anyway. Each level of that recursion is one
more digit, so even ``-10**15 .. 10**15`` is a grammar of a few KB, nested ~34 deep.

Numbers (``"type": "number"``) are honoured for whole-number bounds, the common
``0..1``, ``1..5``, ``0..100``: ``0 <= x <= 1`` is ``0`` with any fraction or ``1`` with
only zeros after the point. A fractional bound (``0.5``) is refused by the caller.
Bounded numbers are written without an exponent, which the schema allows but need not.
"""

from __future__ import annotations

#: most digits of an integer part; the converter's unbounded integer rule writes 16
MAX_DIGITS = 16
LARGEST = 10**MAX_DIGITS - 1
#: most digits after the point (the converter's decimal part also allows 16)
_FRACTION = "[0-9]{1,16}"
_ZERO_FRACTION = '"." "0"{1,16}'
_NONZERO_FRACTION = '"." [0-9]{0,15} [1-9]'


class EmptyRange(ValueError):
    """No JSON number written as this grammar writes them lies between the bounds."""


def integer_range(low: int | None, high: int | None) -> str:
    """A GBNF expression for exactly the JSON integers ``n`` with ``low <= n <= high``.

    ``None`` is unbounded (as far as ``MAX_DIGITS``); never ``-0`` or a leading zero.
    """
    low = -LARGEST if low is None else max(low, -LARGEST)
    high = LARGEST if high is None else min(high, LARGEST)
    if low > high:
        raise EmptyRange(f"no integer of at most {MAX_DIGITS} digits is from {low} to {high}")
    parts = []
    if low < 0:  # the negatives, as "-" and their magnitudes
        parts.append(f'"-" ({_naturals(max(1, -high), -low)})')
    if high >= 0:
        parts.append(_naturals(max(low, 0), high))
    return " | ".join(parts)


def number_range(
    low: int | None, high: int | None, *, low_open: bool = False, high_open: bool = False
) -> str:
    """A GBNF expression for JSON numbers ``x`` with ``low <= x <= high`` (``<`` if open).

    The bounds are whole numbers; ``None`` is unbounded (as far as ``MAX_DIGITS``).
    """
    if low is None:
        low, low_open = -LARGEST, False
    if high is None:
        high, high_open = LARGEST, False
    low, high = max(low, -LARGEST), min(high, LARGEST)
    if low > high or (low == high and (low_open or high_open)):
        raise EmptyRange(f"no number is between {low} and {high}")
    parts = []
    if low < 0:  # x = -m with -high <= m <= -low (at m = 0 closed unless x < 0 is asked)
        least, least_open = (-high, high_open) if high <= 0 else (0, False)
        negative = _magnitudes(least, -low, least_open=least_open, most_open=low_open)
        parts.append(f'"-" ({negative})')
    if high > 0 or (high == 0 and not high_open):
        least, least_open = (low, low_open) if low >= 0 else (0, False)
        parts.append(_magnitudes(least, high, least_open=least_open, most_open=high_open))
    return " | ".join(parts)


def _magnitudes(least: int, most: int, *, least_open: bool, most_open: bool) -> str:
    """Non-negative decimals (integer part and an optional fraction) from least to most."""
    any_fraction = f'("." {_FRACTION})?'
    if least == most:
        return f'"{least}" ({_ZERO_FRACTION})?'  # not open: number_range refused that
    parts = []
    if least_open:
        parts.append(f'"{least}" {_NONZERO_FRACTION}')
        least += 1
    if least <= most - 1:
        parts.append(f"({_naturals(least, most - 1)}) {any_fraction}")
    if not most_open:
        parts.append(f'"{most}" ({_ZERO_FRACTION})?')
    return " | ".join(parts)


def _naturals(low: int, high: int) -> str:
    """``low..high`` (``0 <= low <= high``) as alternatives, one per count of digits."""
    parts = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        first = 10 ** (digits - 1) if digits > 1 else 0
        last = 10**digits - 1
        parts.append(_same_length(str(max(low, first)), str(min(high, last))))
    return " | ".join(parts)


def _same_length(low: str, high: str) -> str:
    """The digit strings from ``low`` to ``high``, both of the same length, as GBNF."""
    common = 0
    while common < len(low) and low[common] == high[common]:
        common += 1
    prefix = f'"{low[:common]}"' if common else ""
    if common == len(low):
        return prefix
    x, y = low[common], high[common]
    low_rest, high_rest = low[common + 1 :], high[common + 1 :]
    rest = len(low_rest)
    if not rest:
        return _join(prefix, _digits(x, y))
    # low_rest == "00..0" or high_rest == "99..9" mean that whole end is free: merge it
    middle_from = x if low_rest == "0" * rest else chr(ord(x) + 1)
    middle_to = y if high_rest == "9" * rest else chr(ord(y) - 1)
    parts = []
    if middle_from != x:
        parts.append(f'"{x}" ({_same_length(low_rest, "9" * rest)})')
    if middle_from <= middle_to:
        parts.append(f"{_digits(middle_from, middle_to)} {_free(rest)}")
    if middle_to != y:
        parts.append(f'"{y}" ({_same_length("0" * rest, high_rest)})')
    alternatives = " | ".join(parts)
    return _join(prefix, f"({alternatives})" if len(parts) > 1 else alternatives)


def _digits(first: str, last: str) -> str:
    return f"[{first}]" if first == last else f"[{first}-{last}]"


def _free(count: int) -> str:
    return "[0-9]" if count == 1 else f"[0-9]{{{count}}}"


def _join(prefix: str, rest: str) -> str:
    return f"{prefix} {rest}" if prefix else rest
