"""Scripted raw-socket HTTP servers for the remote transport's tests.

Each server is ``asyncio.start_server`` with a handler that reads one request head (and
its body) and writes exactly the bytes a test wants, so framing, keep-alive and failure
cases are exact rather than whatever a real server library happens to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from llm_api.errors import ApiError
from llm_api.platform.remote.client import Timeout, UpstreamClient
from llm_api.platform.remote.http import transport_errors

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]], Awaitable[None]]
SERVICE = "the upstream model server"


async def read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """One request: its line, lower-cased headers and body; None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (f.split(": ", 1) for f in fields if f)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return {"line": line, "headers": headers, "body": body}


@asynccontextmanager
async def scripted(handler: Handler, **server_args: Any):  # type: ignore[no-untyped-def]
    """A loopback server; ``seen`` records connections, requests and closed connections."""
    seen: dict[str, Any] = {"connections": 0, "requests": [], "closed": asyncio.Event()}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            await handler(reader, writer, seen)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, **server_args)
    port = server.sockets[0].getsockname()[1]
    seen["url"] = f"http://127.0.0.1:{port}/v1/echo"
    seen["port"] = port
    try:
        yield seen
    finally:
        server.close()
        await server.wait_closed()


def answering(*answers: bytes) -> Handler:
    """Answer the connection's requests in turn with ``answers``, then wait for the close."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        for answer in answers:
            request = await read_request(r)
            if request is None:
                return
            seen["requests"].append(request)
            w.write(answer)
            await w.drain()
        await r.read()  # hold the connection open until the client closes it
        seen["closed"].set()

    return handler


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes, trailers: bool = False) -> bytes:
    out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
    out += b"content-type: text/event-stream\r\n\r\n"
    for piece in pieces:
        out += f"{len(piece):x}".encode() + b";name=value\r\n" + piece + b"\r\n"
    return out + b"0\r\n" + (b"x-trailer: yes\r\n" if trailers else b"") + b"\r\n"


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))  # type: ignore[arg-type]


def client(read: float = 10.0) -> UpstreamClient:
    return UpstreamClient(Timeout(read=read, connect=2.0))


async def failure(call: Awaitable[Any]) -> ApiError:
    """What ``call`` raises, through the backends' error mapping."""
    with pytest.raises(ApiError) as raised:
        with transport_errors(SERVICE):
            await call
    return raised.value
