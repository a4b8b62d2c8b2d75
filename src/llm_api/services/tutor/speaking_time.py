"""Who spoke how much: speaker labels, turns, and whole percentages that sum to 100.

A transcript names its speakers with labels such as ``Student:`` — at the start of a
line, or inline after the end of a sentence (``...today? Teacher: I'm fine``), in any
case, with spaces before the colon, after a timestamp (``[00:12] Student:``) or a bullet.
Each label is matched to a participant:

1. the same name, ignoring case, spaces and punctuation (``teacher 456`` → ``Teacher456``);
2. else the one participant whose name starts with the label or is its start
   (``Student`` → ``Student123``; two such participants make the label ambiguous);
3. else the one participant sharing the longest common prefix with it, if that prefix is
   at least three characters and half the shorter name (``Studnt`` → ``Student123``).

Words are counted per turn (a turn runs from its label to the next one); text before
the first label and turns of labels that match no participant (``Parent:`` when only a
student and a teacher take part) belong to nobody. Which "name:" is a label: a one-word
one at the start of a line always; a longer one there (``It was great: ...``) or one after
a sentence end only when it matches a participant or occurs more than once, so
``He said: no`` stays speech; a capitalised word and a colon anywhere else
(``fine Teacher: good``) only when it names a participant by rule 1 or 2. Once a label is
known, its exact spelling followed by a colon marks a turn anywhere.

Percentages are each participant's share of the attributed words, rounded by the
largest-remainder method (ties go to the participant listed first), so they are whole
numbers that sum to exactly 100. With one participant, that participant has 100. When
no word can be attributed (no labels, or only unknown ones), nobody can be said to have
spoken more, and the 100 points are split as evenly as whole numbers allow.

Words are runs of letters and digits, with inner apostrophes and hyphens (``I'm``,
``well-known``); scripts written without spaces count one word per run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llm_api.schemas.tutor import name_key

WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")

_NAME = r"[^\W\d_][\w.'’\-]*(?:[ \t]+[\w.'’\-]+){0,2}?"
_COLON = r"[ \t]*[:：](?![\d/])"
_PREFIX = r"(?:\[[^\]\n]{0,24}\][ \t]*|\(?\d{1,2}(?::\d{2}){1,2}\)?[ \t]+|[-*•>][ \t]+)?"
#: a label at the start of a line (after an optional timestamp or bullet)
_LINE_LABEL = re.compile(rf"^[ \t]*{_PREFIX}(?P<name>{_NAME}){_COLON}", re.MULTILINE)
#: a label right after the end of a sentence, on the same line
_INLINE_LABEL = re.compile(rf"(?<=[.!?…\"'”)\]])[ \t]+(?P<name>{_NAME}){_COLON}")
#: one word and a colon anywhere: a label only if it plainly names a participant
_BARE_LABEL = re.compile(rf"(?<=\s)(?P<name>[^\W\d_][\w'’\-]*){_COLON}")

#: the longest-common-prefix rule needs at least this many shared characters
MIN_SHARED_PREFIX = 3
#: a bare label (not after a line start or a sentence end) needs this long a name
MIN_BARE_LABEL = 3


@dataclass(frozen=True, slots=True)
class Turn:
    label: str  # as written, whitespace collapsed
    speaker: str | None  # the participant, or None for an unknown label
    text: str  # what was said, label excluded


@dataclass(frozen=True, slots=True)
class SpeakingTime:
    words: dict[str, int]  # words per participant, in the participants' order
    percent: dict[str, int]  # whole percentages summing to 100
    unattributed_words: int  # before the first label, or under unknown labels


def match_participant(label: str, participants: Sequence[str], *, loose: bool = True) -> str | None:
    """The participant a label stands for (rules 1-3 above; ``loose=False``: 1-2 only)."""
    key = name_key(label)
    if not key:
        return None
    keys = [(participant, name_key(participant)) for participant in participants]
    for participant, other in keys:
        if other == key:
            return participant
    prefixed = [
        p for p, other in keys if other and (other.startswith(key) or key.startswith(other))
    ]
    if prefixed or not loose:
        return prefixed[0] if len(prefixed) == 1 else None
    shared = [(_common_prefix(key, other), p, other) for p, other in keys]
    best = max(length for length, _, _ in shared)
    winners = [(p, other) for length, p, other in shared if length == best]
    if len(winners) != 1 or best < MIN_SHARED_PREFIX:
        return None
    participant, other = winners[0]
    return participant if best * 2 >= min(len(key), len(other)) else None


def find_turns(transcript: str, participants: Sequence[str]) -> tuple[str, list[Turn]]:
    """``(text before the first label, the turns in order)``."""
    line = list(_LINE_LABEL.finditer(transcript))
    inline = list(_INLINE_LABEL.finditer(transcript))
    seen: dict[str, int] = {}
    for match in line + inline:
        key = name_key(match["name"])
        seen[key] = seen.get(key, 0) + 1

    speakers: dict[str, str | None] = {}  # label key -> its participant (None: unknown)
    marks: dict[int, tuple[int, str]] = {}  # label start -> (label end, label as written)

    def mark(match: re.Match[str], speaker: str | None) -> None:
        if any(start <= match.start() < end for start, (end, _) in marks.items()):
            return  # inside a label already found
        label = _collapse(match["name"])
        speakers.setdefault(name_key(label), speaker)
        marks[match.start()] = (match.end(), label)

    for match, is_line in [(m, True) for m in line] + [(m, False) for m in inline]:
        name, key = match["name"], name_key(match["name"])
        if key in speakers:
            mark(match, speakers[key])
            continue
        speaker = match_participant(name, participants)
        if speaker is not None or seen[key] > 1 or (is_line and len(name.split()) == 1):
            mark(match, speaker)
    for match in _BARE_LABEL.finditer(transcript):
        name, key = match["name"], name_key(match["name"])
        if not name[0].isupper() or len(key) < MIN_BARE_LABEL:
            continue  # "ask the student: ..." is speech
        speaker = speakers.get(key) or match_participant(name, participants, loose=False)
        if speaker is not None:
            mark(match, speaker)
    for match in _spelled(transcript, {label for _, label in marks.values()}):
        mark(match, speakers[name_key(match["name"])])

    starts = sorted(marks)
    preamble = transcript[: starts[0]] if starts else transcript
    turns = []
    for index, start in enumerate(starts):
        end, label = marks[start]
        until = starts[index + 1] if index + 1 < len(starts) else len(transcript)
        turns.append(Turn(label, speakers[name_key(label)], transcript[end:until]))
    return preamble, turns


def count_words(text: str) -> int:
    return sum(1 for _ in WORD.finditer(text))


def speaking_time(transcript: str, participants: Sequence[str]) -> SpeakingTime:
    preamble, turns = find_turns(transcript, participants)
    words = dict.fromkeys(participants, 0)
    unattributed = count_words(preamble)
    for turn in turns:
        count = count_words(turn.text)
        if turn.speaker is None:
            unattributed += count
        else:
            words[turn.speaker] += count
    if len(participants) == 1:
        percent = {participants[0]: 100}
    else:
        percent = whole_percentages(words)
    return SpeakingTime(words=words, percent=percent, unattributed_words=unattributed)


def whole_percentages(counts: dict[str, int]) -> dict[str, int]:
    """Shares of 100 by the largest-remainder method; all zero counts share evenly."""
    if not counts:
        return {}
    weights = counts if sum(counts.values()) else dict.fromkeys(counts, 1)
    total = sum(weights.values())
    floors: dict[str, int] = {}
    remainders: dict[str, int] = {}
    for name, weight in weights.items():
        floors[name], remainders[name] = divmod(100 * weight, total)
    order = list(weights)
    short = 100 - sum(floors.values())
    for name in sorted(order, key=lambda n: (-remainders[n], order.index(n)))[:short]:
        floors[name] += 1
    return floors


def _spelled(transcript: str, spellings: Iterable[str]) -> Iterable[re.Match[str]]:
    """Every occurrence of a known label spelling followed by a colon."""
    ordered = sorted(spellings, key=len, reverse=True)
    if not ordered:
        return []
    names = "|".join(r"[ \t]+".join(map(re.escape, name.split())) for name in ordered)
    return re.finditer(rf"(?<![\w.'’\-])(?P<name>{names}){_COLON}", transcript)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _common_prefix(first: str, second: str) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length
