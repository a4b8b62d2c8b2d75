"""The tool call of an embedded tools answer, read as llama.cpp generates it.

The tools grammar (``grammar.tools_gbnf``) lets a call be only
``{"name": "<tool>", "arguments": <value>}`` (single optional spaces between tokens), and
plain text never starts with ``{``. So the name is known once ``"arguments":`` has been
generated, and every later character up to the end of the value is the arguments text:
a stream sends them as OpenAI streams a call (a first fragment naming the function, then
pieces of its arguments), and an answer cut by ``max_tokens`` keeps the call with its
arguments as far as they were generated, never the call's JSON as text.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: everything before the arguments value, its first character included (lookahead)
_HEAD = re.compile(r'\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*(?=\S)')
#: a call cut inside its name
_PARTIAL_NAME = re.compile(r'\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)')
#: what ends a number, ``true``, ``false`` or ``null`` (arguments that are not an object)
_SCALAR_END = frozenset(' \t\r\n,}]"')


class CallReader:
    """Reads one call's text as it grows: ``feed`` returns the fragments each piece adds
    (the binding's stream shape: ``{"index": 0, "function": {...}}``)."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.name: str | None = None  # once announced
        self.arguments = ""
        self.complete = False  # the arguments value has ended
        self._head = ""  # the text before the arguments, until the name is known
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, text: str) -> list[dict[str, Any]]:
        fragments: list[dict[str, Any]] = []
        if self.name is None:
            self._head += text
            match = _HEAD.match(self._head)
            if match is None:
                return fragments
            self.name = json.loads(match.group(1))
            fragments.append(_fragment(self.name, ""))
            text = self._head[match.end() :]
        piece = self._scan(text)
        if piece:
            self.arguments += piece
            fragments.append(_fragment(None, piece))
        return fragments

    def finish(self) -> list[dict[str, Any]]:
        """At the end of generation: the announcement of a call cut inside its name, when
        the name can only be one tool's (a cut call is still a call, not text)."""
        if self.name is not None:
            return []
        self.name = self.cut_name()
        return [_fragment(self.name, "")] if self.name is not None else []

    def cut_name(self) -> str | None:
        """The one tool a call cut before its arguments can be calling, if only one fits."""
        match = _PARTIAL_NAME.match(self._head)
        begun = match.group(1) if match else ""
        fits = [name for name in self.names if json.dumps(name)[1:-1].startswith(begun)]
        return fits[0] if len(fits) == 1 else None

    def cut_call(self) -> dict[str, Any] | None:
        """The call as far as it was generated (``arguments`` its text), if it names one."""
        name = self.name if self.name is not None else self.cut_name()
        return None if name is None else {"name": name, "arguments": self.arguments}

    def _scan(self, text: str) -> str:
        """The part of ``text`` that is still the arguments value; marks where it ends."""
        if self.complete:
            return ""
        for position, char in enumerate(text):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
                    if self._depth == 0:  # the arguments were one string
                        return self._end(text[: position + 1])
                continue
            if self._depth == 0 and (self.arguments or position) and char in _SCALAR_END:
                return self._end(text[:position])
            if char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    return self._end(text[: position + 1])
        return text

    def _end(self, piece: str) -> str:
        self.complete = True
        return piece


def _fragment(name: str | None, arguments: str) -> dict[str, Any]:
    """One tool-call fragment as Workers AI's Chat Completions shape streams it."""
    if name is None:
        return {"index": 0, "function": {"arguments": arguments}}
    return {"index": 0, "type": "function", "function": {"name": name, "arguments": arguments}}
