"""The platform on workerd: Workers AI through ``env.AI``, settings from ``env``'s vars.

Everything JS-specific lives here (JS object conversion, ReadableStream reading, JS
errors). Imported only by ``src/entry.py``: ``js`` and ``pyodide`` exist only in workerd.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from typing import Any

import js
from pyodide.ffi import JsException, to_js

from llm_api.errors import ApiError, BackendError
from llm_api.platform.base import Platform, RunResult, SSEByteStream
from llm_api.platform.upstream_errors import from_workers_ai_message
from llm_api.settings import ConfigError, Settings

try:
    from pyodide.ffi import jsnull
except ImportError:  # Pyodide < 0.26 turns JS null into None itself
    jsnull = None

ENGINE = "workers-ai"


class WorkersAIBinding:
    """The AI binding protocol over the Worker's ``env.AI``."""

    engine = ENGINE

    def __init__(self, env_ai: Any) -> None:
        self._ai = env_ai

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        args = [model, _js_object(_workers_ai_inputs(inputs))]
        if options:
            args.append(_js_object(options))
        try:
            result = await self._ai.run(*args)
        except JsException as exc:
            raise _upstream_error(exc) from exc
        if isinstance(result, dict):  # SDK >= 1.5 has converted it already (a dict subclass)
            return _run_result(_plain(result))
        if _js_type(result) == "ReadableStream":
            return _read_stream(result)
        return _run_result(_plain(result.to_py()))


def _js_object(value: Mapping[str, Any]) -> Any:
    # Bindings want plain JS objects: to_js alone makes a Map, which they reject. SDK >= 1.5
    # wraps env.AI and would convert a dict itself, but passes a JS object through untouched,
    # and older SDKs hand env.AI over raw; converting here is right under both. No PyProxies:
    # inputs are JSON data, and a proxy nobody destroys would leak.
    return to_js(value, dict_converter=js.Object.fromEntries, create_pyproxies=False)


def _js_type(value: Any) -> str | None:
    constructor = getattr(value, "constructor", None)
    return getattr(constructor, "name", None)


def _plain(value: Any) -> Any:
    """Dicts, lists and scalars only: JS null becomes None, dict subclasses plain dicts."""
    if value is jsnull:
        return None
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _upstream_error(exc: JsException) -> ApiError:
    # The binding throws e.g. InferenceUpstreamError("3040: Capacity temporarily exceeded").
    return from_workers_ai_message(getattr(exc, "message", None) or str(exc))


async def _read_stream(stream: Any) -> AsyncIterator[bytes]:
    """The stream's chunks as they come, untouched (a chunk may end inside a character).

    Read through a reader rather than ``async for``, so that a consumer that stops early
    (a client gone, an error downstream) cancels the upstream generation.
    """
    reader = stream.getReader()
    finished = False
    try:
        while True:
            try:
                step = await reader.read()
            except JsException as exc:
                finished = True  # an errored stream has nothing left to cancel
                raise _upstream_error(exc) from exc
            if step.done:
                finished = True
                return
            chunk = _chunk_bytes(step.value)
            if chunk:
                yield chunk
    finally:
        if not finished:
            try:
                await reader.cancel()
            except JsException:
                pass  # already closed or errored: nothing more to stop
        reader.releaseLock()


def _chunk_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return value.to_bytes()  # a Uint8Array, as Workers AI streams


# The rest mirrors remote_workers_ai.workers_ai_body / run_result (the same upstream seen
# through its REST API); they cannot be imported here because that module needs httpx.


def _workers_ai_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Workers AI has no ``tool_choice``: "none" sends no tools, a named function only it."""
    body = {key: value for key, value in inputs.items() if value is not None}
    choice = body.pop("tool_choice", None)
    if choice == "none":
        body.pop("tools", None)
    elif isinstance(choice, dict) and body.get("tools"):
        wanted = (choice.get("function") or {}).get("name")
        body["tools"] = [tool for tool in body["tools"] if _function(tool).get("name") == wanted]
    return body


def _run_result(result: Any) -> RunResult:
    """Workers AI's answer in the binding protocol's shape: text ``response``, dict arguments."""
    if not isinstance(result, dict):
        raise BackendError("Workers AI answered without a result")
    if "choices" in result:  # newer models answer in OpenAI's chat.completion shape
        return _completion_result(result)
    response = result.get("response")
    out: RunResult = {"response": _text(response)}
    if isinstance(result.get("usage"), dict):
        out["usage"] = result["usage"]
    if result.get("tool_calls"):
        out["tool_calls"] = [_tool_call(call) for call in result["tool_calls"]]
    if isinstance(result.get("finish_reason"), str):
        out["finish_reason"] = result["finish_reason"]
    return out


def _completion_result(result: dict[str, Any]) -> RunResult:
    choices = result.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendError("Workers AI answered without a choice")
    message = choices[0].get("message") or {}
    out: RunResult = {"response": _text(message.get("content"))}
    if isinstance(result.get("usage"), dict):
        out["usage"] = result["usage"]
    if message.get("tool_calls"):
        out["tool_calls"] = [_tool_call(call) for call in message["tool_calls"]]
    if isinstance(choices[0].get("finish_reason"), str):
        out["finish_reason"] = choices[0]["finish_reason"]
    return out


def _text(response: Any) -> str:
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False)  # JSON mode can answer with the object


def _function(call: dict[str, Any]) -> dict[str, Any]:
    return call["function"] if isinstance(call.get("function"), dict) else call


def _tool_call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise BackendError("Workers AI sent a tool call that is not an object")
    function = _function(call)
    return {"name": str(function.get("name") or ""), "arguments": _arguments(function)}


def _arguments(function: dict[str, Any]) -> dict[str, Any]:
    """A dict; text that is not a JSON object is kept as ``_raw`` for the service to judge."""
    arguments = function.get("arguments")
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if not isinstance(arguments, str):
        return {"_raw": json.dumps(arguments)}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


class _PlatformCache:
    """One platform per Worker env, so nothing is rebuilt per request.

    The SDK wraps ``env`` afresh for every request and Pyodide makes a new proxy each
    time the JS env crosses over, but the JS object is the isolate's own: ``js_id``
    names it. A stand-in without ``js_id`` is keyed by ``id()``; the cache keeps it
    alive, so that id cannot be reused while it is cached.
    """

    def __init__(self) -> None:
        self._key: object = None
        self._env: Any = None
        self._platform: Platform | None = None

    def get(self, env: Any) -> Platform:
        key = _env_key(env)
        if self._platform is None or key != self._key:
            settings = Settings.from_mapping(EnvVars(env))
            platform = Platform(ai=WorkersAIBinding(_ai_binding(env)), settings=settings)
            self._key, self._env, self._platform = key, env, platform
        return self._platform


def _env_key(env: Any) -> object:
    raw = getattr(env, "_env", env)  # the JS env inside the SDK's per-request wrapper
    js_id = getattr(raw, "js_id", None)
    return ("js", js_id) if isinstance(js_id, int) else ("py", id(raw))


def _ai_binding(env: Any) -> Any:
    ai = getattr(env, "AI", None)
    if ai is None:
        raise ConfigError('the Worker has no AI binding: add [ai] binding = "AI" to wrangler.toml')
    return ai


class EnvVars(Mapping[str, str]):
    """The Worker's vars as the mapping ``Settings.from_mapping`` reads.

    A name is looked up on ``env`` only when Settings asks for it, so exactly the names
    Settings knows are read, and bindings and secrets are never touched. It lists
    nothing: ``env`` cannot be listed without its bindings and secrets.
    """

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getitem__(self, name: str) -> str:
        value = getattr(self._env, name, None)
        if value is None or value is jsnull:
            raise KeyError(name)
        return value if isinstance(value, str) else str(value)  # a number in [vars]

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_platforms = _PlatformCache()


def workers_platform_provider(scope: MutableMapping[str, Any]) -> Platform:
    """The ``PlatformProvider`` for workerd: the platform of ``scope["env"]``."""
    return _platforms.get(scope["env"])
