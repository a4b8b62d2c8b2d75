"""The Worker harness's Workers AI: the embedded model behind a binding-shaped endpoint.

``python -m tests.worker.harness.ai_host`` loads the embedded backend (llama.cpp and
SmolLM2, as ``llm-api serve --backend embedded``) and answers ``POST /run`` with a JSON
body ``{model, inputs, options}`` exactly as ``env.AI.run`` would: the result object as
JSON, or the SSE stream's bytes as they are generated, or — for what the binding would
throw — a 500 with ``{name, message}`` in Workers AI's ``"<code>: <text>"`` form. The
harness's ``ForwardingAI`` (bindings.mjs) turns that into a JS object, a ``ReadableStream``
or a thrown ``InferenceUpstreamError``. Loopback only; one JSON line on stdout once the
model is loaded and the socket listens: ``{"ready": "http://127.0.0.1:PORT"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from llm_api.errors import (
    ApiError,
    BackendBusy,
    BackendTimeout,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
)
from llm_api.platform.embedded.backend import EmbeddedBackend

MAX_BODY = 8_000_000
# Our errors as the Workers AI codes that binding.upstream_errors maps back to them.
CODES: tuple[tuple[type[ApiError], int], ...] = (
    (PayloadTooLarge, 3006),
    (BackendTimeout, 3007),
    (BackendBusy, 3040),
    (ModelNotFound, 5007),
    (InvalidRequest, 5006),
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def thrown(exc: ApiError) -> dict[str, str]:
    code = next((code for kind, code in CODES if isinstance(exc, kind)), None)
    if code is None:
        return {"name": "AiError", "message": exc.message}
    return {"name": "InferenceUpstreamError", "message": f"{code}: {exc.message}"}


class AIHost:
    def __init__(self, backend: EmbeddedBackend) -> None:
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["path"] != "/run" or scope["method"] != "POST":
            await _json(send, 404, {"name": "Error", "message": "POST /run only"})
            return
        body = await _body(receive)
        request = json.loads(body)
        try:
            result = await self.backend.run(
                request["model"], request["inputs"], request.get("options")
            )
        except ApiError as exc:
            await _json(send, 500, thrown(exc))
            return
        if isinstance(result, dict):
            await _json(send, 200, result)
            return
        await _stream(result, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.backend.load()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.backend.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError("request body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Send, status: int, value: Any) -> None:
    body = json.dumps(value).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(stream: Any, receive: Receive, send: Send) -> None:
    """Send the stream's chunks as they come; a client gone stops the generation."""
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def pump() -> None:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    sending = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, watching):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await stream.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    app = AIHost(EmbeddedBackend(n_threads=args.threads))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        await app.backend.load()  # before saying ready: the first request must not wait
        port = sock.getsockname()[1]
        print(json.dumps({"ready": f"http://127.0.0.1:{port}"}), flush=True)
        await server.serve(sockets=[sock])

    asyncio.run(serve())
    sys.exit(0)


if __name__ == "__main__":
    main()
