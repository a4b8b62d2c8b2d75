"""Vocabulary the model says was used, kept only where the transcript really has it.

An item (a word or a short phrase) is kept when its words occur, in order and next to
each other, within one turn of the transcript — speaker labels excluded, case ignored.
It comes back spelled as the transcript first spells it; repeats are dropped, and so are
single English function words ("the", "and"), which are not vocabulary worth listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llm_api.services.tutor.speaking_time import WORD, find_turns

#: longest phrase, in words, that counts as one vocabulary item
MAX_PHRASE_WORDS = 4

STOP_WORDS = frozenset(
    """a an the and or but if so of to in on at by for from with as is am are was were be
    been being do does did have has had i me my we us our you your he him his she her it
    its they them their this that these those there here what who whom which when where
    why how not no yes oh ok okay um uh hmm ah well just very too also then than can could
    will would shall should may might must let let's i'm you're it's that's don't""".split()
)


class Transcript:
    """The words of a transcript, turn by turn, for looking phrases up."""

    def __init__(self, transcript: str, participants: Sequence[str]) -> None:
        preamble, turns = find_turns(transcript, participants)
        self._turns: list[tuple[list[str], list[str]]] = []
        self._where: dict[str, list[tuple[int, int]]] = {}
        for text in [preamble, *(turn.text for turn in turns)]:
            words = [match.group() for match in WORD.finditer(text)]
            folded = [word.casefold() for word in words]
            for position, word in enumerate(folded):
                self._where.setdefault(word, []).append((len(self._turns), position))
            self._turns.append((folded, words))

    def candidates(self, limit: int) -> list[str]:
        """Up to ``limit`` content words (no function words, digits or one-letter words),
        most frequent first, then longest (rarer words are longer), then in order of
        appearance; lower case unless the transcript only ever capitalises them (names)."""
        counts: dict[str, int] = {}
        spelled: dict[str, str] = {}
        for folded, words in self._turns:
            for key, word in zip(folded, words, strict=True):
                if key in STOP_WORDS or len(key) < 2 or not any(c.isalpha() for c in key):
                    continue
                counts[key] = counts.get(key, 0) + 1
                if key not in spelled or word == key:
                    spelled[key] = word
        ranked = sorted(counts, key=lambda key: (-counts[key], -len(key)))  # stable
        return [spelled[key] for key in ranked[:limit]]

    def find(self, phrase: str) -> str | None:
        """The phrase as the transcript spells it, or None where it does not occur."""
        wanted = [match.group().casefold() for match in WORD.finditer(phrase)]
        if not wanted:
            return None
        for turn, position in self._where.get(wanted[0], []):
            folded, words = self._turns[turn]
            if folded[position : position + len(wanted)] == wanted:
                return " ".join(words[position : position + len(wanted)])
        return None


def used_vocabulary(
    proposed: Iterable[str], transcript: Transcript, *, limit: int | None = None
) -> list[str]:
    """The proposed items that occur in ``transcript``, de-duplicated, in order."""
    kept: list[str] = []
    seen: set[str] = set()
    for item in proposed:
        found = transcript.find(item)
        if found is None or len(found.split()) > MAX_PHRASE_WORDS:
            continue
        key = found.casefold()
        if key in seen or key in STOP_WORDS:
            continue
        seen.add(key)
        kept.append(found)
        if limit is not None and len(kept) == limit:
            break
    return kept
