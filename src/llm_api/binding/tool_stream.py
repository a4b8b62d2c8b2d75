"""Tool calls as a stream shows them: announced, growing, and cut short.

A client that streams a call (OpenAI's chunks, instructor's partial objects, the AI SDK's
``tool-input-delta``) wants its name as soon as it is known and its arguments as they are
generated. ``ToolCallStream`` reads them from a stream's events (``events.parse_event``):
Chat Completions fragments (merged by index, as ``StreamAssembler`` merges them) and
whole calls (the binding's legacy frames), and gives each call a position, an id (the
upstream's, else a new one) and its deltas: the first names it, the later ones carry
pieces of its arguments text. ``calls()`` has them whole, in the same order and with the
same ids, for the one rule (``events.tool_call``), or ``cut_tool_call`` when
``max_tokens`` cut the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_api.binding.events import StreamEvent, dumps, loads, tool_call
from llm_api.binding.protocol import ToolCall, ToolCallFragment
from llm_api.binding.workers_ai import function_of


@dataclass(slots=True)
class _Call:
    position: int
    id: str = ""
    name: str = ""
    arguments: str = ""
    announced: bool = False
    is_whole: bool = False
    whole: Any = None  # a whole call as the upstream sent it, its id set


class ToolCallStream:
    """A stream's tool calls in arrival order; ``new_id`` names a call its upstream did not."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}

    def feed(self, event: StreamEvent) -> list[ToolCallFragment]:
        """The deltas ``event`` adds: ``index`` is the call's position, ``name`` is set on
        its first delta only (with its id), ``arguments`` is the next piece of its text."""
        cut = event.finish_reason == "length"
        deltas = [delta for raw in event.tool_calls for delta in self._whole(raw, cut)]
        for fragment in event.fragments:
            deltas.extend(self._fragment(fragment))
        return deltas

    def calls(self) -> list[Any]:
        """Every call whole, in the binding's shape, each with the id it was announced with."""
        out: list[Any] = []
        for call in self._calls:
            if call.is_whole:
                out.append(call.whole)
                continue
            joined: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
            if call.id:
                joined["id"] = call.id
            out.append(joined)
        return out

    def _whole(self, raw: Any, cut: bool) -> list[ToolCallFragment]:
        """A whole call is judged as it arrives: refused before anything of it is sent."""
        checked = (cut_tool_call if cut else tool_call)(raw)
        call = _Call(len(self._calls), id=checked.get("id") or self._new_id(), is_whole=True)
        call.whole = {**raw, "id": call.id}  # a dict, as the rule has just checked
        self._calls.append(call)
        arguments = checked["arguments"]
        text = arguments if isinstance(arguments, str) else dumps(arguments)
        return [_delta(call, checked["name"], text)]

    def _fragment(self, fragment: ToolCallFragment) -> list[ToolCallFragment]:
        call = self._by_index.get(fragment["index"])
        if call is None:
            call = self._by_index[fragment["index"]] = _Call(len(self._calls))
            self._calls.append(call)
        if call.announced:
            call.arguments += fragment["arguments"]
            return [_delta(call, "", fragment["arguments"])] if fragment["arguments"] else []
        call.id = call.id or fragment["id"]
        call.name = call.name or fragment["name"]
        call.arguments += fragment["arguments"]
        if not call.name:
            return []  # held until the call is named: a client's first delta names it
        call.id = call.id or self._new_id()
        call.announced = True
        return [_delta(call, call.name, call.arguments)]


def _delta(call: _Call, name: str, arguments: str) -> ToolCallFragment:
    return {"index": call.position, "id": call.id, "name": name, "arguments": arguments}


def cut_tool_call(raw: object) -> ToolCall:
    """A call of an answer cut by ``max_tokens``: by the one rule where its arguments are
    whole, else with them as the JSON text generated so far (which need not parse)."""
    function = function_of(raw) if isinstance(raw, dict) else {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str) or _whole_object(arguments):
        return tool_call(raw)
    assert isinstance(raw, dict)
    call = tool_call({"name": function.get("name"), "id": raw.get("id")})
    call["arguments"] = arguments
    return call


def _whole_object(text: str) -> bool:
    try:
        return isinstance(loads(text), dict)
    except ValueError:
        return False
