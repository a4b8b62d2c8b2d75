"""Tidying what the model wrote before code puts it into an answer.

Model text is made one line (so it can never start a section or a list item of its
own), stripped of the bullets and numbers code adds itself, and compared for
duplicates by its words only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

Item = TypeVar("Item")

_LEADING_MARKER = re.compile(r"^(?:[-*•]+|\(?\d{1,2}[.)])\s+")
_QUOTES = "\"'“”‘’«»"


def one_line(text: str) -> str:
    """``"  - Practise\\n daily "`` → ``"Practise daily"``."""
    line = " ".join(text.split())
    line = _LEADING_MARKER.sub("", line)
    if len(line) > 1 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    return line


def sentence(text: str, end: str = ".") -> str:
    """One line that ends like a sentence (``end`` added where no ending is)."""
    line = one_line(text).rstrip(",;:- ")
    if line and line[-1] not in ".!?…。！？":
        line += end
    return line


def comparable(text: str) -> str:
    """What two spellings of the same item share: its words, case-folded."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def distinct(items: Iterable[Item], key: Callable[[Item], str]) -> list[Item]:
    """``items`` without later repeats (by ``key``) or blank keys, in order."""
    seen: set[str] = set()
    kept: list[Item] = []
    for item in items:
        marker = key(item)
        if marker and marker not in seen:
            seen.add(marker)
            kept.append(item)
    return kept


def interleave(groups: Sequence[Sequence[Item]]) -> list[Item]:
    """First items of every group, then second items, and so on."""
    longest = max((len(group) for group in groups), default=0)
    return [group[i] for i in range(longest) for group in groups if i < len(group)]
