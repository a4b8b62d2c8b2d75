"""Server-sent events: incremental parsing of upstream bytes, and encoding.

The parser accepts chunks split anywhere — inside a line, inside a UTF-8 character,
between ``\\r`` and ``\\n`` — and yields each event's ``data`` as soon as its blank
line arrives, so nothing is held back longer than the event it belongs to.

Upstream bytes are bounded here, whatever the transport: a line, an event and a whole
stream each have a cap (``MAX_LINE_BYTES``, ``MAX_EVENT_BYTES``, ``MAX_STREAM_BYTES``);
beyond it the stream ends with a ``BackendError`` (a 502, or an in-band error frame once
the answer has started). ``env.AI``'s stream on the Worker has no transport cap of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from json.encoder import (  # type: ignore[attr-defined]
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any, TypeVar

from llm_api.errors import ApiError, BackendError, Family, public_error

logger = logging.getLogger("llm_api")

#: an answer as server-sent events: bytes ready to send, errors in-band, always ending
#: with ``data: [DONE]`` (what the family services return for ``stream: true``)
Frames = AsyncGenerator[bytes, None]
Item = TypeVar("Item")

DONE_FRAME = b"data: [DONE]\n\n"

#: One line of an event stream: far above any token frame (a few hundred bytes) or a
#: final frame with tool calls; an upstream that never sends a newline is cut off here.
MAX_LINE_BYTES = 1 << 20
#: One event (its ``data`` lines together, until the blank line).
MAX_EVENT_BYTES = 1 << 20
#: One whole stream: millions of tokens' worth of frames, far beyond any model's output.
MAX_STREAM_BYTES = 64 << 20


class StreamTooLarge(BackendError):
    """The upstream's stream broke one of the caps above."""


class SSEParser:
    """Feed bytes, get back the ``data`` payloads of completed events (WHATWG rules).

    Lines are split on bytes (``\\r`` and ``\\n`` never occur inside a UTF-8 sequence),
    and an event's data is decoded once, when it is dispatched. A line still incomplete
    is kept as a list of pieces, joined once when its end arrives: feeding a long line in
    many chunks costs time linear in its length.
    """

    def __init__(
        self, *, max_line_bytes: int = MAX_LINE_BYTES, max_event_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self._partial: list[bytes] = []  # the pieces of the line not yet ended
        self._partial_size = 0
        self._data: list[bytes] = []
        self._data_size = 0
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        if not chunk:  # an empty chunk changes nothing, a pending \r included
            return []
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the \n of a \r\n split across chunks
        # after that lone \n nothing is pending any more: the next \n is a line of its own
        self._pending_cr = chunk[-1:] == b"\r"
        if b"\r" in chunk:  # the pieces never hold one: they follow the last line break
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._keep(chunk)
            return []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
        events: list[str] = []
        for line in lines:
            if len(line) > self.max_line_bytes:
                raise _too_large("a stream line", self.max_line_bytes)
            self._line(line, events)
        if tail:
            self._keep(tail)
        return events

    def close(self) -> list[str]:
        """End of stream: a last event without its blank line still counts."""
        events: list[str] = []
        tail = b"".join(self._partial)
        self._partial, self._partial_size = [], 0
        if tail:
            self._line(tail, events)
        self._dispatch(events)
        return events

    def _keep(self, piece: bytes) -> None:
        self._partial_size += len(piece)
        if self._partial_size > self.max_line_bytes:
            raise _too_large("a stream line", self.max_line_bytes)
        self._partial.append(piece)

    def _line(self, line: bytes, events: list[str]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[:1] == b":":
            return  # comment / keep-alive
        name, _, value = line.partition(b":")
        if name != b"data":
            return
        if value[:1] == b" ":
            value = value[1:]
        self._data_size += len(value) + 1
        if self._data_size > self.max_event_bytes:
            raise _too_large("a stream event", self.max_event_bytes)
        self._data.append(value)

    def _dispatch(self, events: list[str]) -> None:
        if self._data:
            events.append(b"\n".join(self._data).decode("utf-8", "replace"))
            self._data, self._data_size = [], 0


def _too_large(what: str, limit: int) -> StreamTooLarge:
    return StreamTooLarge(f"the backend sent {what} over {limit} bytes")


async def iter_sse_data(
    stream: AsyncIterator[bytes], *, max_stream_bytes: int = MAX_STREAM_BYTES
) -> AsyncIterator[str]:
    """Each event's data from a byte stream, as it completes; at most
    ``max_stream_bytes`` of it (``StreamTooLarge`` beyond)."""
    parser = SSEParser()
    received = 0
    async for chunk in stream:
        if not isinstance(chunk, bytes | bytearray):
            raise BackendError("the backend streamed something that is not bytes")
        received += len(chunk)
        if received > max_stream_bytes:
            raise _too_large("a stream", max_stream_bytes)
        for data in parser.feed(bytes(chunk)):
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


def error_frame(family: Family, error: ApiError) -> bytes:
    """A failure after a stream started: one in-band event carrying ``family``'s error
    envelope (the same body a non-streamed answer would have had)."""
    return encode_data(family.body(error))


async def frames(
    items: AsyncGenerator[Item, None],
    encode: Callable[[Item], bytes],
    encode_error: Callable[[ApiError], bytes],
) -> Frames:
    """Frame each item as it arrives. A failure after the start becomes one in-band
    error event (what a client may see of it), and every stream ends with ``[DONE]``."""
    try:
        async for item in items:
            yield encode(item)
    except ApiError as exc:
        yield encode_error(public_error(exc))
    except Exception:
        logger.exception("stream failed after it started")
        yield encode_error(ApiError("Internal error while streaming"))
    finally:
        await items.aclose()
    yield DONE_FRAME
