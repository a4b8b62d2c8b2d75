"""A raw-socket upstream that breaks HTTP/1.1 on purpose, for the remote transport's tests.

It runs its own event loop in a daemon thread, so sync tests, ``asyncio.run`` tests and
the e2e server (a subprocess) can all call it::

    with hostile_upstream() as upstream:
        backend = OpenAICompatibleBackend(upstream.base_url)

Like tests/fake_upstreams.py it is scripted by a word in the request (the last user
message): each word in ``SCENARIOS`` writes exactly the bytes its name says, which a real
server library would never send. ``fine`` answers correctly (whole, or as a chunked SSE
stream with ``"stream": true``) and keeps the connection alive. The server records, per
word, that a request arrived (``received``) and that its connection was closed by the
client (``closed``), as threading events a test can wait on.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

MiB = 1 << 20
#: how long a scenario that writes without end goes on if the client never stops it
ENDLESS_S = 20.0


def completion(text: str) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}}
    body = {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "choices": [{**choice, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return json.dumps(body).encode()


def sized(body: bytes, *extra: str, length: str | None = None) -> bytes:
    head = ["HTTP/1.1 200 OK", "content-type: application/json"]
    head += [f"content-length: {length or len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse_chunk(text: str | None = None, finish: str | None = None) -> bytes:
    delta = {"content": text} if text is not None else {}
    event = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    if finish:
        event["choices"][0]["finish_reason"] = finish
    return b"data: " + json.dumps(event).encode() + b"\n\n"


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
)


@cache
def gzip_of(pattern: bytes, size: int) -> bytes:
    """``size`` bytes of ``pattern`` repeated, gzip-compressed (about 1000:1)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    block = pattern * (MiB // len(pattern))
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


@dataclass
class HostileState:
    bomb_bytes: int = 1 << 30  # what the gzip bombs inflate to
    connections: int = 0
    requests: list[str] = field(default_factory=list)  # the scenario word of each request
    _events: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, kind: str, word: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault((kind, word), threading.Event())

    def received(self, word: str) -> threading.Event:
        return self.event("received", word)

    def closed(self, word: str) -> threading.Event:
        """Set when the client closed a connection that was serving ``word``."""
        return self.event("closed", word)

    def stray(self, word: str) -> threading.Event:
        """Set once bytes nobody asked for were written after ``word``'s answer."""
        return self.event("stray", word)

    def count(self, word: str) -> int:
        return self.requests.count(word)


Writer = asyncio.StreamWriter
#: a scenario says what becomes of the connection after it: "keep" it for the next request,
#: "wait" for the client to close it, or "close" it at once
Scenario = Callable[[Writer, HostileState, bool], Awaitable[str]]


async def _write(writer: Writer, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def _endless(writer: Writer, block: bytes, limit: int = 8 << 30) -> None:
    """Write ``block`` until the client goes away (or a bound, should it never)."""
    deadline, sent = time.monotonic() + ENDLESS_S, 0
    while time.monotonic() < deadline and sent < limit:
        await _write(writer, block)
        sent += len(block)


async def fine(writer: Writer, state: HostileState, stream: bool) -> str:
    if not stream:
        await _write(writer, sized(completion("fine")))
        return "keep"
    body = sse_chunk("fi") + sse_chunk("ne") + sse_chunk(finish="stop") + b"data: [DONE]\n\n"
    await _write(writer, STREAM_HEAD + b"\r\n" + chunk(body) + b"0\r\n\r\n")
    return "keep"


async def late_end(writer: Writer, state: HostileState, stream: bool) -> str:
    """A correct stream whose last chunk (the end of the body) comes well after [DONE]."""
    body = sse_chunk("late", finish="stop") + b"data: [DONE]\n\n"
    await _write(writer, STREAM_HEAD + b"\r\n" + chunk(body))
    await asyncio.sleep(0.05)
    await _write(writer, b"0\r\n\r\n")
    return "keep"


async def negative_length(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n")
    await _endless(writer, b"x" * MiB)
    return "wait"


def _padded(text: str, size: int) -> bytes:
    body = completion(text)
    return body + b" " * (size - len(body))  # JSON allows trailing whitespace


async def plus_length(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, sized(_padded("plus", 248), length="+248"))
    return "keep"


async def underscore_length(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, sized(_padded("underscore", 248), length="2_48"))
    return "keep"


async def hex_chunk(writer: Writer, state: HostileState, stream: bool) -> str:
    body = _padded("hex", 0xF8)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n"
    await _write(writer, head + b"\r\n0xf8\r\n" + body + b"\r\n0\r\n\r\n")
    return "keep"


SMUGGLED = "SMUGGLED"


async def trailing(writer: Writer, state: HostileState, stream: bool) -> str:
    """A correct answer, then (a moment later, once the client pooled the connection) a
    whole second answer nobody asked for: it must never reach the next caller."""
    await _write(writer, sized(completion("trailing")))
    await asyncio.sleep(0.05)
    await _write(writer, sized(completion(SMUGGLED)))
    state.stray("trailing").set()
    return "keep"


async def trailing_same_packet(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, sized(completion("trailing")) + sized(completion(SMUGGLED)))
    state.stray("trailingsamepacket").set()
    return "keep"


async def gzip_bomb(writer: Writer, state: HostileState, stream: bool) -> str:
    packed = gzip_of(b"A", state.bomb_bytes)
    await _write(writer, sized(packed, "content-encoding: gzip"))
    return "keep"


async def gzip_bomb_stream(writer: Writer, state: HostileState, stream: bool) -> str:
    """A real first event, then SSE comments by the gigabyte: every line is short and
    well-formed, so only a cap on the inflated bytes stops it."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    start = packer.compress(sse_chunk("boom")) + packer.flush(zlib.Z_SYNC_FLUSH)
    await _write(writer, STREAM_HEAD + b"content-encoding: gzip\r\n\r\n" + chunk(start))
    rest = packer.compress(b": ping\n\n" * (MiB // 8)) + packer.flush(zlib.Z_SYNC_FLUSH)
    await _endless(writer, chunk(rest) * 64, limit=state.bomb_bytes // 1000)
    return "wait"


async def endless_stream(writer: Writer, state: HostileState, stream: bool) -> str:
    """SSE comments without end, uncompressed."""
    await _write(writer, STREAM_HEAD + b"\r\n" + chunk(sse_chunk("on")))
    await _endless(writer, chunk(b": ping\n\n" * (MiB // 8)))
    return "wait"


async def endless_header(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, b"HTTP/1.1 200 OK\r\nx-endless: ")
    await _endless(writer, b"a" * MiB)
    return "wait"


async def endless_body(writer: Writer, state: HostileState, stream: bool) -> str:
    """No length, no chunks: the body ends with the connection, and it never ends."""
    await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n")
    await _endless(writer, b"a" * MiB)
    return "wait"


async def huge_length(writer: Writer, state: HostileState, stream: bool) -> str:
    await _write(writer, b"HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n")
    await _endless(writer, b"a" * MiB)
    return "wait"


async def read_then_close(writer: Writer, state: HostileState, stream: bool) -> str:
    """The request was read in full (a real server would now bill it), then nothing."""
    return "close"


async def hang(writer: Writer, state: HostileState, stream: bool) -> str:
    """Read the request, answer nothing, keep the connection until the client leaves."""
    return "wait"


#: word in the request -> what the server writes; longer words first where one holds another
SCENARIOS: dict[str, Scenario] = {
    "lateend": late_end,
    "negativelength": negative_length,
    "pluslength": plus_length,
    "underscorelength": underscore_length,
    "hexchunk": hex_chunk,
    "trailingsamepacket": trailing_same_packet,
    "trailing": trailing,
    "gzipbombstream": gzip_bomb_stream,
    "gzipbomb": gzip_bomb,
    "endlessstream": endless_stream,
    "endlessheader": endless_header,
    "endlessbody": endless_body,
    "hugelength": huge_length,
    "readthenclose": read_then_close,
    "hang": hang,
}


def word_of(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    text = str(messages[-1].get("content") or body.get("prompt") or "").lower()
    return next((word for word in SCENARIOS if word in text), "fine")


async def _read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    try:
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return json.loads(body) if body else {}


class HostileUpstream:
    """The server in a daemon thread; a context manager."""

    def __init__(self, state: HostileState) -> None:
        self.state = state
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hostile-upstream", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0, limit=64 * 1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        left = asyncio.all_tasks() - {asyncio.current_task()}
        for task in left:  # connections still being served
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        self.state.connections += 1
        word, then = "", "keep"
        try:
            while then == "keep" and (request := await _read_request(reader)) is not None:
                word = word_of(request)
                self.state.requests.append(word)
                self.state.received(word).set()
                scenario = SCENARIOS.get(word, fine)
                then = await scenario(writer, self.state, bool(request.get("stream")))
        except ConnectionError:
            then = "wait"
        finally:
            if then == "wait":
                await self._until_closed(reader, word)
            writer.close()

    async def _until_closed(self, reader: asyncio.StreamReader, word: str) -> None:
        # A scenario that stopped writing: wait (bounded) for the client to hang up.
        try:
            async with asyncio.timeout(ENDLESS_S):
                while await reader.read(65536):
                    pass
        except TimeoutError:
            return
        except ConnectionError:
            pass  # a reset is a close too
        self.state.closed(word).set()

    def start(self) -> HostileUpstream:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile upstream did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def __enter__(self) -> HostileUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def hostile_upstream(*, bomb_bytes: int = 1 << 30) -> HostileUpstream:
    return HostileUpstream(HostileState(bomb_bytes=bomb_bytes))
