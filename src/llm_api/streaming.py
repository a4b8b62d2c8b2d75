"""Server-sent events: incremental parsing of upstream bytes, and encoding.

The parser accepts chunks split anywhere — inside a line, inside a UTF-8 character,
between ``\\r`` and ``\\n`` — and yields each event's ``data`` as soon as its blank
line arrives, so nothing is held back longer than the event it belongs to.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from json.encoder import (  # type: ignore[attr-defined]
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any

from llm_api.platform.workers_ai_wire import normalise_usage

DONE = "[DONE]"
DONE_FRAME = b"data: [DONE]\n\n"


class SSEParser:
    """Feed bytes, get back the ``data`` payloads of completed events (WHATWG rules)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decoder.decode(chunk)
        if not text:  # an empty chunk (or part of a character) changes nothing
            return []  # a pending \r included
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across chunks
        # after that lone \n nothing is pending any more: the next \n is a line of its own
        self._pending_cr = text.endswith("\r")
        if "\r" in text:  # the buffer never holds one: it is what follows the last \n
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        *lines, self._buffer = (self._buffer + text).split("\n")
        events: list[str] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[str]:
        """End of stream: a last event without its blank line still counts."""
        events: list[str] = []
        tail = self._buffer + self._decoder.decode(b"", final=True)
        self._buffer = ""
        if tail:
            self._line(tail, events)
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events

    def _line(self, line: str, events: list[str]) -> None:
        if line == "":
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(":"):
            return  # comment / keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)


async def iter_sse_data(stream: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Each event's data from a byte stream, as it completes."""
    parser = SSEParser()
    async for chunk in stream:
        for data in parser.feed(chunk):
            yield data
    for data in parser.close():
        yield data


#: ``json.dumps`` with arguments builds a new encoder on every call, which cost more than
#: the encoding itself (bench/README.md); this one is built once.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII_JSON = json.JSONEncoder(separators=(",", ":"))
#: a ``str`` as a JSON string literal, non-ASCII kept (the C encoder where available)
json_string: Callable[[str], str] = encode_basestring


def encode_data(payload: Any) -> bytes:
    """One SSE event carrying ``payload`` as compact JSON, always valid UTF-8."""
    try:
        return b"data: " + _COMPACT_JSON.encode(payload).encode() + b"\n\n"
    except UnicodeEncodeError:  # a lone surrogate (half an emoji): escape it as \udXXX
        return b"data: " + _ASCII_JSON.encode(payload).encode() + b"\n\n"


def encode_response(text: str) -> bytes:
    """``encode_data({"response": text})``, the binding protocol's token frame, at a
    twentieth of the cost: it is written once per token of every stream."""
    try:
        return f'data: {{"response":{json_string(text)}}}\n\n'.encode()
    except UnicodeEncodeError:
        return f'data: {{"response":{encode_basestring_ascii(text)}}}\n\n'.encode()


@dataclass(slots=True)
class StreamEvent:
    """One upstream event in the binding protocol, normalised.

    Workers AI sends ``{"response": "..."}`` frames; some newer models (and the OpenAI
    backend's upstreams) send ``chat.completion.chunk`` frames instead. Both end up here.
    """

    text: str = ""
    usage: dict[str, int] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None


def parse_binding_event(data: str) -> StreamEvent | None:
    """Interpret one ``data`` payload of a binding stream; ``None`` for ``[DONE]``."""
    if data.strip() == DONE:
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        return StreamEvent(error=f"the backend sent a malformed stream event: {data[:200]!r}")
    if not isinstance(payload, dict):
        return StreamEvent(error="the backend sent a stream event that is not a JSON object")
    if "choices" in payload:
        return _from_openai_chunk(payload)
    event = StreamEvent()
    if payload.get("error"):
        err = payload["error"]
        event.error = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    response = payload.get("response")
    if isinstance(response, str):
        event.text = response
    elif response is not None:
        event.text = json.dumps(response)  # JSON mode can answer with an object
    event.usage = _usage(payload.get("usage"))
    event.tool_calls = [_binding_tool_call(call) for call in payload.get("tool_calls") or []]
    finish = payload.get("finish_reason")
    event.finish_reason = finish if isinstance(finish, str) else None
    return event


def _from_openai_chunk(payload: dict[str, Any]) -> StreamEvent:
    event = StreamEvent(usage=_usage(payload.get("usage")))
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        event.text += delta.get("content") or ""
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            event.tool_calls.append(
                {
                    "index": call.get("index", 0),
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments_fragment": function.get("arguments") or "",
                }
            )
        if choice.get("finish_reason"):
            event.finish_reason = choice["finish_reason"]
    return event


def _binding_tool_call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        return {"name": str(call), "arguments": {}}
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            arguments = {"_raw": arguments}
    return {"name": function.get("name", ""), "arguments": arguments}


def _usage(raw: Any) -> dict[str, int] | None:
    return normalise_usage(raw) if isinstance(raw, dict) else None
