"""The platform on workerd: Workers AI through ``env.AI``, settings from ``env``'s vars.

Imported only by ``src/entry.py``: ``js`` and ``pyodide`` exist only in workerd. The JS
conversions live in ``workers_ffi``; keys, limits, usage and stored responses (KV and the
per-key Durable Object) in ``workers_state``; and Workers AI's inputs, shared with the
REST backend, in ``binding.workers_ai`` (its answers are read by ``binding.events``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from typing import Any

from llm_api.binding.events import run_result
from llm_api.binding.protocol import Platform, RunResult, SSEByteStream
from llm_api.binding.run_options import workers_ai_options
from llm_api.binding.upstream_errors import from_workers_ai_message
from llm_api.binding.whole_stream import sse_or_result
from llm_api.binding.workers_ai import SERVICE, model_inputs
from llm_api.catalog.live import PER_PAGE, TEXT_GENERATION, CatalogFetchError, fetch_all_pages
from llm_api.catalog.source import HostCatalog
from llm_api.errors import ApiError, BackendError
from llm_api.platform.workers.catalog_kv import KVSharedListing
from llm_api.platform.workers.ffi import JsException, js_object, js_type, jsnull, to_py
from llm_api.platform.workers.state import KEYS_BINDING, bound_responses, bound_state
from llm_api.settings import ConfigError, Settings

ENGINE = "workers-ai"


class WorkersAIBinding:
    """The AI binding protocol over the Worker's ``env.AI``."""

    engine = ENGINE

    def __init__(self, env_ai: Any) -> None:
        self._ai = env_ai

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        # always a third argument: rejectIfBusy (binding.run_options)
        inputs_js = js_object(model_inputs(model, inputs))
        args = [model, inputs_js, js_object(workers_ai_options(options))]
        try:
            result = await self._ai.run(*args)
        except JsException as exc:
            raise _upstream_error(exc, model) from exc
        if not isinstance(result, dict) and js_type(result) == "ReadableStream":
            # SSE, or a whole JSON answer to a stream request (gpt-oss; facts-14 §0.2)
            return await sse_or_result(_read_stream(result, model), service=SERVICE)
        return run_result(to_py(result))  # a dict subclass (SDK >= 1.5) or a JsProxy

    async def list_models(self) -> list[Any]:
        """The account's text models (``ModelSource``): ``env.AI.models({task, per_page,
        page})`` returns each page's ``result`` array [AI]; the binding pages nothing itself,
        so pages of 50 are read until a short one, as over REST (facts-14 §1)."""
        models = getattr(self._ai, "models", None)
        if models is None:
            raise CatalogFetchError("this AI binding has no models()")

        async def page(number: int) -> list[Any]:
            params = {"task": TEXT_GENERATION, "per_page": PER_PAGE, "page": number}
            try:
                result = to_py(await models(js_object(params)))
            except JsException as exc:
                raise CatalogFetchError(str(getattr(exc, "message", None) or exc)) from exc
            return result  # not a list: fetch_all_pages refuses it

        return await fetch_all_pages(page)


def _upstream_error(exc: JsException, model: str) -> ApiError:
    # The binding throws e.g. InferenceUpstreamError("3040: Capacity temporarily exceeded"),
    # or AiError("... (code 5035)"): binding.upstream_errors reads both (facts-14 §0.3).
    return from_workers_ai_message(getattr(exc, "message", None) or str(exc), model=model)


async def _read_stream(stream: Any, model: str) -> AsyncIterator[bytes]:
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
                raise _upstream_error(exc, model) from exc
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
    # A Uint8Array, as Workers AI streams (Pyodide gives every JS buffer ``to_bytes``;
    # an int has one too, which is not what was sent).
    if not isinstance(value, int) and hasattr(value, "to_bytes"):
        return bytes(value.to_bytes())
    raise BackendError(f"{ENGINE} streamed a {js_type(value) or type(value).__name__}, not bytes")


class WorkersProvider:
    """The ``PlatformProvider`` for workerd: the platform of ``scope["env"]``, one per
    Worker env, so that nothing is rebuilt per request. ``entry.py`` builds one.

    The SDK wraps ``env`` afresh for every request and Pyodide makes a new proxy each
    time the JS env crosses over, but the JS object is the isolate's own: ``js_id``
    names it. A stand-in without ``js_id`` is keyed by ``id()``; the provider keeps it
    alive, so that id cannot be reused while it is cached.
    """

    #: The SDK's ASGI adapter sends ``http.disconnect`` only after the response is handed
    #: over (``workers.asgi``), so ``create_app`` installs no disconnect watch here.
    reports_disconnects = False

    def __init__(self) -> None:
        self._key: object = None
        self._env: Any = None
        self._platform: Platform | None = None

    def __call__(self, scope: MutableMapping[str, Any]) -> Platform:
        # The JS env itself, not the SDK's wrapper: its bindings would convert every
        # argument and result (python_to_rpc / python_from_rpc) on each call, CPU spent on
        # every request under Pyodide (bench/README.md §4); ffi.py converts what it sends.
        env = getattr(scope["env"], "_env", scope["env"])
        key = _env_key(env)
        if self._platform is None or key != self._key:
            ai = WorkersAIBinding(_ai_binding(env))
            settings = Settings.from_mapping(EnvVars(env))
            keys, limiter, usage = bound_state(env)  # fails closed where one is unbound
            catalog = HostCatalog(
                successors=settings.model_successors, list_models=_listing(env, ai)
            )
            platform = Platform(
                ai, settings, keys, limiter, usage, catalog=catalog, responses=bound_responses(env)
            )
            self._key, self._env, self._platform = key, env, platform
        return self._platform


def _listing(env: Any, ai: WorkersAIBinding) -> Any:
    """The isolate's model listing: through the ``catalog:v1`` KV copy where ``API_KEYS``
    is bound (shared by the isolates), else straight from ``env.AI.models()``."""
    kv = getattr(env, KEYS_BINDING, None)
    if kv is None or kv is jsnull:
        return ai.list_models
    return KVSharedListing(kv, ai.list_models)


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
    Settings knows are read (``ADMIN_TOKEN``, a secret, among them), and other bindings
    and secrets are never touched. It lists nothing: ``env`` cannot be listed without
    its bindings and secrets.
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
