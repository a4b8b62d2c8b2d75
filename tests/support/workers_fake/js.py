"""A stand-in for the ``js`` module: the JS globals the workers SDK's ASGI adapter uses.

``Object.fromEntries``, ``URL``, ``Headers``, ``Request``, ``Response``,
``ReadableStream`` (read with a reader or ``async for``; its reader records cancel and
releaseLock) and ``TransformStream`` (a pipe: what the writer writes, the readable reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from tests.support.workers_fake.ffi import (
    JsArray,
    JsException,
    JsObject,
    JsProxy,
    Uint8Array,
    jsnull,
)

_END = object()


class Object:
    @staticmethod
    def fromEntries(entries: Iterable[Any]) -> JsObject:
        return JsObject({key: value for key, value in entries})


class Array:
    @staticmethod
    def new(*items: Any) -> JsArray:
        return JsArray(items)


class URL(JsProxy):
    js_name = "URL"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.href = url
        self.protocol = parts.scheme + ":"
        self.host = parts.netloc
        self.pathname = parts.path or "/"
        self.search = "?" + parts.query if parts.query else ""

    @classmethod
    def new(cls, url: str) -> URL:
        return cls(url)


class Headers(JsProxy):
    js_name = "Headers"

    def __init__(self, init: Any = None) -> None:
        pairs = init.items() if isinstance(init, dict) else init or []
        self._pairs = [(str(name).lower(), str(value)) for name, value in pairs]

    @classmethod
    def new(cls, init: Any = None) -> Headers:
        return cls(init)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self._pairs))

    def items(self) -> list[tuple[str, str]]:
        return list(self)

    def get(self, name: str) -> Any:
        values = [value for key, value in self._pairs if key == name.lower()]
        return ", ".join(values) if values else jsnull

    def has(self, name: str) -> bool:
        return any(key == name.lower() for key, _ in self._pairs)

    def set(self, name: str, value: str) -> None:
        self._pairs = [pair for pair in self._pairs if pair[0] != name.lower()]
        self._pairs.append((name.lower(), value))

    def getSetCookie(self) -> list[str]:
        return [value for key, value in self._pairs if key == "set-cookie"]


class ReadableStreamReader(JsProxy):
    js_name = "ReadableStreamDefaultReader"

    def __init__(self, stream: ReadableStream) -> None:
        self.stream = stream

    async def read(self) -> JsObject:
        chunk = await self.stream.next_chunk()
        if chunk is _END:
            return JsObject({"done": True, "value": None})
        if isinstance(chunk, JsException):
            raise chunk
        self.stream.chunks_read += 1
        return JsObject({"done": False, "value": chunk})

    async def cancel(self, reason: Any = None) -> None:
        self.stream.cancelled = True

    def releaseLock(self) -> None:
        self.stream.locked = False
        self.stream.lock_released = True


class ReadableStream(JsProxy):
    """Chunks given up front (a ``JsException`` among them errors the stream there),
    or fed through ``feed``/``end`` (the readable side of a TransformStream)."""

    js_name = "ReadableStream"

    def __init__(self, chunks: Iterable[Any] | None = None) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        if chunks is not None:
            for chunk in chunks:
                self._queue.put_nowait(Uint8Array(chunk) if isinstance(chunk, bytes) else chunk)
            self._queue.put_nowait(_END)
        self.locked = False
        self.cancelled = False
        self.lock_released = False
        self.chunks_read = 0

    def feed(self, chunk: Any) -> None:
        self._queue.put_nowait(chunk)

    def end(self) -> None:
        self._queue.put_nowait(_END)

    async def next_chunk(self) -> Any:
        if self.cancelled:
            return _END
        return await self._queue.get()

    def getReader(self) -> ReadableStreamReader:
        if self.locked:
            raise JsException("TypeError", "ReadableStream is locked")
        self.locked = True
        return ReadableStreamReader(self)

    async def __aiter__(self):
        reader = self.getReader()
        try:
            while True:
                step = await reader.read()
                if step.done:
                    return
                yield step.value
        finally:
            reader.releaseLock()


class _Writer(JsProxy):
    js_name = "WritableStreamDefaultWriter"

    def __init__(self, readable: ReadableStream) -> None:
        self._readable = readable
        self.closed = False

    async def write(self, chunk: Uint8Array) -> None:
        if self.closed:
            raise JsException("TypeError", "the stream is closed")
        self._readable.feed(chunk)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._readable.end()


class TransformStream(JsProxy):
    js_name = "TransformStream"

    def __init__(self) -> None:
        self.readable = ReadableStream()
        writer = _Writer(self.readable)
        self.writable = JsObject({"getWriter": lambda: writer})

    @classmethod
    def new(cls) -> TransformStream:
        return cls()


class Request(JsProxy):
    js_name = "Request"

    def __init__(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = Headers(list(headers))
        self.body = ReadableStream([body]) if body else jsnull
        self.bodyUsed = False
        self.cf = jsnull


class Response(JsProxy):
    """``body`` is a Uint8Array, a ReadableStream (streaming) or None."""

    js_name = "Response"

    def __init__(self, body: Any = None, *, status: int = 200, headers: Any = None, **init: Any):
        if isinstance(body, str):
            body = Uint8Array(body.encode())
        self.body = body
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.init = init
        self.url = ""

    @classmethod
    def new(cls, body: Any = None, **init: Any) -> Response:
        return cls(body, **init)
