"""The wording check: what every sentence (or phrase) a model writes into an answer must pass.

Pure code, no I/O. A piece of wording passes when it

* echoes no schema: no JSON punctuation (``{ } [ ] " #``), no identifier such as
  ``next_steps``, ``keyPoints`` or ``interest_0``, no ``<field name>:`` (``strengths: ...``);
* is not a repeat of an earlier piece of the same answer (same words, any case), and
  does not loop on a word (one used more than three times);
* has at least ``min_words`` words (4 for a sentence) and, for a sentence, ends with
  ``.``, ``!`` or ``?`` (a question with ``?``);
* mentions its subject (the skill, the interest, the cue): one of the subject's content
  words, or a word sharing its stem (``fluent`` for *fluency*, ``cook`` for *cooking*);
* holds no digit where code writes the numbers (scores, levels, durations).

``problems`` says what is wrong; an empty list is a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["sentence", "question", "phrase"]

WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
#: JSON and markdown punctuation that plain wording never needs
SCHEMA_CHARS = re.compile(r'[{}\[\]"#<>|\\=*_]')
#: an identifier: snake_case or camelCase (``next_steps``, ``keyPoints``)
IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]+[A-Z][a-zA-Z]*\b")
ENDINGS = {"sentence": ".!?", "question": "?", "phrase": ""}
#: words too common to name a subject (``Task achievement`` is named by *task*, *achievement*)
STOP = frozenset(
    "a an the and or of to in on at by for with your you my our their his her its is are".split()
)
#: a word matches a subject word when they share this many first letters (or the shorter
#: word whole, when it is shorter): ``fluent``/``fluency``, ``cook``/``cooking``
STEM = 5
MIN_STEM = 3

#: a word (not a stop word) used more often than this in one sentence is a loop
LOOP = 3

#: field names of the answers' schemas: a model that fills a schema echoes them
FIELD_NAMES = frozenset(
    """overall strengths improvements recommendations next_steps nextsteps keypoints
    vocabularyused grammarpatterns speakingtime suggestions overallrating subject composition
    lighting lens motion camera duration duration_seconds topics interests interest
    language level analysis feedback schema json""".split()
)


@dataclass(frozen=True, slots=True)
class Expect:
    """What one piece of wording is for."""

    subject: tuple[str, ...]  # phrases naming what it is about; any one word of them will do
    kind: Kind = "sentence"
    min_words: int = 4
    max_chars: int = 200
    digits: bool = False  # may the model write digits here? (not where code writes numbers)
    #: words that are fine here although they are field names (a lighting cue says "lighting")
    allowed: frozenset[str] = field(default_factory=frozenset)


def words(text: str) -> list[str]:
    return [match.group().casefold() for match in WORD.finditer(text)]


def comparable(text: str) -> str:
    return " ".join(words(text))


def mentions(text: str, subject: Iterable[str]) -> bool:
    """Whether ``text`` names one content word of ``subject`` (by its stem)."""
    wanted = [w for phrase in subject for w in words(phrase) if w not in STOP]
    if not wanted:
        return True
    return any(_same_stem(word, other) for word in words(text) for other in wanted)


def _same_stem(a: str, b: str) -> bool:
    shorter = min(len(a), len(b))
    if shorter < MIN_STEM:
        return a == b
    n = min(STEM, shorter)
    return a[:n] == b[:n]


def problems(text: str, expect: Expect, earlier: Sequence[str] = ()) -> list[str]:
    """What keeps ``text`` out of an answer (empty: it passes)."""
    found: list[str] = []
    line = text.strip()
    if not line:
        return ["it is empty"]
    if "\n" in line or len(line) > expect.max_chars:
        found.append(f"it must be one line of at most {expect.max_chars} characters")
    if SCHEMA_CHARS.search(line) or IDENTIFIER.search(line) or _field_label(line, expect):
        found.append("it echoes the schema (field names or JSON punctuation)")
    counted = [w for w in words(line) if w not in STOP]
    if any(counted.count(w) > LOOP for w in set(counted)):
        found.append("it repeats a word over and over")
    key = comparable(line)
    if any(key == comparable(other) for other in earlier):
        found.append("it repeats an earlier sentence")
    if len(words(line)) < expect.min_words:
        found.append(f"it has fewer than {expect.min_words} words")
    endings = ENDINGS[expect.kind]
    if endings and line[-1] not in endings:
        found.append(f"it does not end with {' or '.join(endings)}")
    if not expect.digits and any(char.isdigit() for char in line):
        found.append("it writes a number, which code writes")
    if not mentions(line, expect.subject):
        found.append(f"it does not mention {' / '.join(expect.subject)}")
    return found


def _field_label(line: str, expect: Expect) -> bool:
    """``strengths: ...``: a field name used as a label."""
    for match in re.finditer(r"([^\W\d]+)\s*:", line):
        name = match.group(1).casefold()
        if name in FIELD_NAMES and name not in expect.allowed:
            return True
    return any(w in {"json", "schema"} for w in words(line))


def passes(text: str, expect: Expect, earlier: Sequence[str] = ()) -> bool:
    return not problems(text, expect, earlier)
