"""Fake Worker bindings and request plumbing: ``env.AI``, the env, ctx, and bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.workers_fake.ffi import JsException, JsObject, JsPromise, JsProxy, jsnull, to_js
from tests.workers_fake.js import Object, ReadableStream, Request, Response

Answer = dict[str, Any] | list[bytes] | ReadableStream | JsException


class FakeAI(JsProxy):
    """``env.AI``: records what ``run`` receives (JS values) and answers from a script.

    An answer is a dict (returned as the JS object the binding would give), a list of
    byte chunks (a ReadableStream of them), a ReadableStream, or a JsException (thrown).
    With nothing scripted it answers ``{"response": "echo: <prompt>"}``.
    """

    js_name = "Ai"  # what the SDK's env wrapper looks for to wrap a binding

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[Any, ...]] = []
        self.streams: list[ReadableStream] = []

    def run(self, *args: Any) -> JsPromise:
        self.calls.append(args)
        answer = self.answers.pop(0) if self.answers else None

        async def settle() -> Any:
            if isinstance(answer, JsException):
                raise answer
            if answer is None:
                prompt = args[1].to_py().get("prompt", "")
                return to_js({"response": f"echo: {prompt}"}, dict_converter=Object.fromEntries)
            if isinstance(answer, dict):
                return _js_value(answer)
            stream = answer if isinstance(answer, ReadableStream) else ReadableStream(answer)
            self.streams.append(stream)
            return stream

        return JsPromise(settle)

    def inputs(self, index: int = -1) -> dict[str, Any]:
        """The inputs of a call, back in Python (asserting they arrived as a JS object)."""
        received = self.calls[index][1]
        assert isinstance(received, JsObject), f"inputs arrived as {type(received).__name__}"
        return received.to_py()


def _js_value(value: Any) -> Any:
    """Python data as JS would hold it; the string ``"<null>"`` stands for JS null."""
    if value == "<null>":
        return jsnull
    if isinstance(value, dict):
        return JsObject({key: _js_value(item) for key, item in value.items()})
    if isinstance(value, list):
        return to_js([_js_value(item) for item in value])
    return value


def worker_env(ai: Any = None, **variables: Any) -> JsObject:
    """The JS ``env``: bindings and vars as properties (a missing one is AttributeError)."""
    entries = dict(variables)
    if ai is not None:
        entries["AI"] = ai
    return JsObject(entries)


def execution_context() -> JsObject:
    return JsObject({"waitUntil": lambda promise: None, "passThroughOnException": lambda: None})


def js_request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: Iterable[tuple[str, str]] = (),
) -> Request:
    body = None
    headers = list(headers)
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers.append(("content-type", "application/json"))
    return Request(method, url, headers=headers, body=body)


async def read_body(
    response: Response, *, on_chunk: Callable[[bytes], None] | None = None
) -> bytes:
    """The whole body of a Response the adapter built, chunk by chunk when it streams."""
    body = response.body
    if body is None:
        return b""
    if isinstance(body, ReadableStream):
        chunks = []
        async for chunk in body:
            data = chunk.to_bytes()
            if on_chunk is not None:
                on_chunk(data)
            chunks.append(data)
        return b"".join(chunks)
    return body.to_bytes()
