"""Fake Worker bindings and request plumbing: ``env.AI``, KV, a Durable Object namespace,
the env, ctx, and bodies.

Each binding has the JS constructor name of the real one, so the real SDK's env wrapper
wraps it exactly as in workerd (``Ai`` and ``KvNamespace`` in a ``_BindingWrapper``,
``DurableObjectNamespace`` in its namespace wrapper).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.workers_fake.ffi import JsException, JsObject, JsPromise, JsProxy, jsnull, to_js
from tests.support.workers_fake.js import Object, ReadableStream, Request, Response
from tests.support.workers_fake.storage import JsStorage

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


class FakeAIWithModels(FakeAI):
    """``env.AI`` with ``models(params)`` [AI]: answers ``result`` (the entries) only, paged
    by ``params.page``/``per_page`` over ``listing``, as workerd's binding does."""

    def __init__(self, *answers: Answer, listing: list[dict[str, Any]]) -> None:
        super().__init__(*answers)
        self.listing = listing
        self.model_searches: list[dict[str, Any]] = []

    def models(self, params: Any = None) -> JsPromise:
        query = params.to_py() if isinstance(params, JsObject) else dict(params or {})
        self.model_searches.append(query)
        per_page, page = int(query.get("per_page", 0) or 0), int(query.get("page", 1) or 1)
        entries = self.listing
        if per_page:  # the binding's server pages only when asked to (facts-14 §1)
            entries = entries[(page - 1) * per_page : page * per_page]

        async def settle() -> Any:
            return _js_value(entries)

        return JsPromise(settle)


def _js_value(value: Any) -> Any:
    """Python data as JS would hold it; the string ``"<null>"`` stands for JS null."""
    if value == "<null>":
        return jsnull
    if isinstance(value, dict):
        return JsObject({key: _js_value(item) for key, item in value.items()})
    if isinstance(value, list):
        return to_js([_js_value(item) for item in value])
    return value


class FakeKV(JsProxy):
    """A KV namespace in a dict of text values: ``get``, ``put`` and a paged ``list``.

    ``fail_with`` makes every operation throw it (a JS error, as KV throws). ``calls``
    records ``(operation, arguments)`` as they arrived (JS values).
    """

    js_name = "KvNamespace"

    def __init__(self, entries: dict[str, str] | None = None, *, page_size: int = 1000) -> None:
        self.entries = dict(entries or {})
        self.page_size = page_size
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail_with: JsException | None = None

    def get(self, name: str, *options: Any) -> JsPromise:
        return self._op("get", (name, *options), lambda: self.entries.get(name, jsnull))

    def put(self, name: str, value: Any, *options: Any) -> JsPromise:
        assert isinstance(value, str), f"put a {type(value).__name__}, not text"
        return self._op("put", (name, value, *options), lambda: self.entries.update({name: value}))

    def list(self, options: Any = None) -> JsPromise:
        assert options is None or isinstance(options, JsObject), f"options as {options!r}"
        wanted = options.to_py() if options is not None else {}
        return self._op("list", (options,), lambda: self._page(wanted))

    def _page(self, options: dict[str, Any]) -> JsObject:
        names = sorted(name for name in self.entries if name.startswith(options.get("prefix", "")))
        start = int(str(options.get("cursor") or "cursor-0").removeprefix("cursor-"))
        end = start + min(self.page_size, int(options.get("limit") or 1000))
        page: dict[str, Any] = {
            "keys": [{"name": name} for name in names[start:end]],
            "list_complete": end >= len(names),
            "cacheStatus": "<null>",
        }
        if end < len(names):
            page["cursor"] = f"cursor-{end}"
        return _js_value(page)

    def _op(self, operation: str, args: tuple[Any, ...], act: Callable[[], Any]) -> JsPromise:
        self.calls.append((operation, args))

        async def settle() -> Any:
            if self.fail_with is not None:
                raise self.fail_with
            return act()

        return JsPromise(settle)


class FakeDurableObjectId(JsProxy):
    js_name = "DurableObjectId"

    def __init__(self, name: str) -> None:
        self.name = name

    def toString(self) -> str:
        return f"id-of-{self.name}"


class FakeDurableObjectNamespace(JsProxy):
    """A Durable Object namespace whose objects are real instances of ``object_class``.

    One instance per name, made on first use with a ctx whose ``storage`` is a
    ``JsStorage`` (sqlite3 in memory) that outlives the instance: ``evict(name)`` drops
    the instance as workerd does when an object goes idle, and the next call builds a
    new one over the same storage. Calls go through ``FakeStub``, which converts
    arguments and results with the SDK's RPC conversions, as workerd's Python
    entrypoint does.
    """

    js_name = "DurableObjectNamespace"

    def __init__(self, object_class: Callable[..., Any], *, env: Any = None) -> None:
        self.object_class = object_class
        self.env = env if env is not None else JsObject()
        self.storages: dict[str, JsStorage] = {}
        self.instances: dict[str, Any] = {}
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []  # (name, method, Python args)
        self.fail_with: JsException | None = None

    def idFromName(self, name: str) -> FakeDurableObjectId:
        return FakeDurableObjectId(name)

    def get(self, object_id: FakeDurableObjectId) -> FakeStub:
        assert isinstance(object_id, FakeDurableObjectId), object_id
        return FakeStub(self, object_id.name)

    def getByName(self, name: str) -> FakeStub:
        return FakeStub(self, name)

    def instance(self, name: str) -> Any:
        if name not in self.instances:
            storage = self.storages.setdefault(name, JsStorage())
            ctx = JsObject({"storage": storage, "id": FakeDurableObjectId(name)})
            self.instances[name] = self.object_class(ctx, self.env)
        return self.instances[name]

    def evict(self, name: str) -> None:
        self.instances.pop(name, None)


class OldDurableObjectNamespace(FakeDurableObjectNamespace):
    """A runtime from before ``getByName``: only ``get(idFromName(name))``."""

    @property
    def getByName(self) -> Any:
        raise AttributeError("getByName")


class FakeStub(JsProxy):
    """A Durable Object stub: every method is an RPC to the named object."""

    js_name = "DurableObject"

    def __init__(self, namespace: FakeDurableObjectNamespace, name: str) -> None:
        self.namespace = namespace
        self.name = name

    def __getattr__(self, method: str) -> Callable[..., JsPromise]:
        if method.startswith("_") or method == "then":  # a stub is not a promise
            raise AttributeError(method)
        namespace, name = self.namespace, self.name

        def call(*js_args: Any) -> JsPromise:
            async def settle() -> Any:
                from workers import python_from_rpc, python_to_rpc  # the fake runtime's SDK

                await asyncio.sleep(0)  # other calls may go first, as across isolates
                if namespace.fail_with is not None:
                    raise namespace.fail_with
                args = tuple(python_from_rpc(arg) for arg in js_args)
                namespace.calls.append((name, method, args))
                result = getattr(namespace.instance(name), method)(*args)
                if inspect.isawaitable(result):
                    result = await result
                return python_to_rpc(result)

            return JsPromise(settle)

        return call


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
