"""Wording slot by slot: one short request per sentence, checked, with code's sentence as
the fallback (issue 17).

A *slot* is one sentence (or question, or phrase) of an answer: a one-line task, one or
two example answers, what the sentence must be about (``wording_check.Expect``) and the
plain sentence code writes from the facts when the model's fails. For a small model (the
catalog's ``small``: SmolLM2, Llama 3.2 1B/3B) each slot is its own request: greedy
decoding, a grammar that allows one plain line only (a JSON string with a ``pattern``,
through the ordinary ``response_format`` path), then the wording check; one retry, sampled,
then the fallback. Capable models keep one structured request per answer, and each of its
sentences goes through the same check and fallback (``Wording.vet``).

Every answer says how its wording was written: ``x-llm-wording: model=N,template=M``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from llm_api.catalog import ModelInfo
from llm_api.errors import InvalidModelOutput
from llm_api.services.generation import Caller, GenerationRequest, complete
from llm_api.services.wording_check import Expect, Kind, problems

logger = logging.getLogger("llm_api.slots")

WORDING_HEADER = "x-llm-wording"
#: the retry samples (a greedy retry would repeat itself), with a fixed seed: same answers
RETRY_TEMPERATURE = 0.7
RETRY_SEED = 17
MAX_TOKENS = 40
#: a small model loops on a word; this keeps it moving
REPEAT_PENALTY = 1.15
#: one line of plain words: letters (Latin-1 too), spaces, apostrophes and hyphens; no
#: commas, so a small model writes one short clause instead of a chain of them
_PLAIN = "a-zA-Z\u00c0-\u00ff '\u2019\\-"
_FIRST = {"phrase": "a-zA-Z\u00c0-\u00ff"}
_CAPITAL = "A-Z\u00c0-\u00de\u00bf\u00a1"
_END = {"sentence": "[.!?]", "question": "[?]", "phrase": ""}
#: characters a sentence may have after its first, by kind
_LENGTH = {"sentence": (12, 120), "question": (10, 100), "phrase": (5, 80)}
_SPECIAL = re.compile(r"([.?!()\[\]{}*+|^$\\])")


def pattern(kind: Kind, *, lead: str = "", digits: bool = False) -> str:
    """The JSON-string pattern of one slot: one plain line of the kind, starting with
    ``lead`` where the slot has one (its subject, so a small model stays on it)."""
    plain = _PLAIN + ("0-9./" if digits else "")
    low, high = _LENGTH[kind]
    if lead and json_safe(lead):  # then a space and a word: the model's words follow
        head = _SPECIAL.sub(r"\\\1", lead) + " [a-zA-Z]"
        low, high = 2, max(30, high - len(lead))
    else:
        head = f"[{_FIRST.get(kind, _CAPITAL)}{'0-9' if digits else ''}]"
    return f"^{head}[{plain}]{{{low},{high}}}{_END[kind]}$"


#: short on purpose: every prompt token costs about as much as a written one on 2 cores
SYSTEM = "You write short, plain sentences."
#: a lead is literal text inside the answer's JSON string: no quote, backslash or control
_JSON_SAFE = re.compile(r'[^"\\\x00-\x1f]+')


def json_safe(text: str) -> bool:
    """Whether ``text`` (user words, as an interest) can be a lead."""
    return _JSON_SAFE.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Slot:
    """One sentence to write; see the module's docstring."""

    task: str  # one line: "Write one sentence praising the learner's grammar."
    expect: Expect
    fallback: str  # code's sentence from the facts; passes the check itself
    examples: tuple[str, ...] = ()
    facts: str = ""  # data the task is about (a transcript excerpt, a prompt), fenced
    #: the words the sentence starts with (its subject: "Your grammar"); English only
    lead: str = ""


def _longest(slot: Slot) -> int:
    """The most characters ``pattern`` lets the slot's answer have."""
    kind = slot.expect.kind
    high = _LENGTH[kind][1]
    led = bool(slot.lead) and json_safe(slot.lead)
    head, body = (len(slot.lead) + 2, max(30, high - len(slot.lead))) if led else (1, high)
    return head + body + (1 if _END[kind] else 0)


def by_slot(caller: Caller, model: ModelInfo) -> bool:
    """Whether the model that will write (``Catalog.writer``) is asked slot by slot."""
    return caller.catalog.writer(model).small


def writes(caller: Caller, model: ModelInfo, language: str) -> bool:
    """Whether the writing model writes ``language`` (a name, any case, or a code)."""
    known = caller.catalog.writer(model).languages
    if known is None:
        return True
    wanted = language.strip().casefold()
    return any(wanted in (name.casefold(), name[:2].casefold()) for name in known)


@dataclass
class Wording:
    """The wording of one answer, as it is written: counts and the sentences so far."""

    caller: Caller
    model: ModelInfo
    model_written: int = 0
    templates: int = 0
    earlier: list[str] = field(default_factory=list)

    async def write(self, slot: Slot) -> str:
        """The slot's sentence: the model's, checked (one retry), else the fallback."""
        for attempt in range(2):
            text = await self._ask(slot, attempt)
            if text is not None:
                found = problems(text, slot.expect, self.earlier)
                if not found:
                    return self._keep(text, model=True)
                logger.info("slot sentence rejected (%s): %r", "; ".join(found), text)
        return self._keep(slot.fallback, model=False)

    def vet(self, text: str, slot: Slot) -> str:
        """A sentence a structured answer already holds: kept if it passes, else code's."""
        if problems(text, slot.expect, self.earlier):
            return self._keep(slot.fallback, model=False)
        return self._keep(text, model=True)

    def publish(self) -> None:
        self.caller.reply.set(WORDING_HEADER, self.header)

    @property
    def header(self) -> str:
        return f"model={self.model_written},template={self.templates}"

    def _keep(self, text: str, *, model: bool) -> str:
        if model:
            self.model_written += 1
        else:
            self.templates += 1
        self.earlier.append(text)
        return text

    async def _ask(self, slot: Slot, attempt: int) -> str | None:
        lines = [slot.task]
        lines += [f"Example: {example}" for example in slot.examples]
        if slot.facts:
            lines.append(slot.facts)
        lines.append("Answer:" if attempt == 0 else "Another answer:")
        sampling: dict[str, Any] = {
            "max_tokens": MAX_TOKENS,
            "temperature": 0.0,
            "repetition_penalty": REPEAT_PENALTY,
        }
        if attempt:
            sampling.update(temperature=RETRY_TEMPERATURE, seed=RETRY_SEED)
        request = GenerationRequest(
            model=self.model,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "\n".join(lines)},
            ],
            sampling=sampling,
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "type": "string",
                    "pattern": pattern(slot.expect.kind, lead=slot.lead, digits=slot.expect.digits),
                },
            },
            structured=True,
        )
        try:
            completion = await complete(self.caller, request)
        except InvalidModelOutput as exc:  # cut short, not JSON: the retry or the fallback
            logger.info("slot answer unusable: %s", exc.message)
            return None
        try:
            text = json.loads(completion.text)
        except ValueError:
            return None
        if not isinstance(text, str) or len(text) >= _longest(slot):
            return None  # cut at the length bound: half a sentence
        return " ".join(text.split())
