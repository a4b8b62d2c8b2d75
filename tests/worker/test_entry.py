"""src/entry.py: a request through ``Default.fetch`` and the real SDK's ASGI adapter.

workerd is not available here, so the JS side is tests/workers_fake; the workers SDK,
the adapter, the app, ``llm_api.platform.workers.provider`` and the ``RateLimiter`` Durable
Object class are the real ones (API keys in a fake KV namespace, each key's object
running over sqlite3).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from llm_api.keys import KeyRecord, new_key
from tests.support.sse import sse_data
from tests.support.workers_fake import Runtime, installed
from tests.support.workers_fake.bindings import (
    FakeAI,
    FakeDurableObjectNamespace,
    FakeKV,
    execution_context,
    js_request,
    read_body,
    worker_env,
)
from tests.support.workers_fake.ffi import JsException, JsObject, Uint8Array
from tests.support.workers_fake.js import ReadableStream, Response
from tests.support.workers_fake.storage import JsStorage

BASE = "https://llm-api.example.workers.dev"


@pytest.fixture
def runtime() -> Runtime:
    with installed() as runtime:
        yield runtime


@pytest.fixture
def entry(runtime: Runtime) -> ModuleType:
    return runtime.load_entry()


def serve(
    runtime: Runtime, entry: ModuleType, env: JsObject, request: Any
) -> tuple[Response, bytes]:
    """One request as workerd makes it: a new ``Default`` per request, same env."""

    async def go() -> tuple[Response, bytes]:
        response = await entry.Default(execution_context(), env).fetch(request)
        body = await read_body(response)
        await runtime.settle()
        return response, body

    return asyncio.run(go())


class Worker:
    """A Worker env as wrangler.toml declares it: AI, API_KEYS, RATE_LIMITER and vars."""

    def __init__(self, entry: ModuleType, ai: Any = None, **variables: Any) -> None:
        self.kv = FakeKV()
        self.objects = FakeDurableObjectNamespace(entry.RateLimiter)
        self.env = worker_env(
            ai or FakeAI(),
            API_KEYS=self.kv,
            RATE_LIMITER=self.objects,
            LLM_API_RATE_LIMIT_RPM="100",
            **variables,
        )

    def add_key(self, **fields: Any) -> tuple[str, KeyRecord]:
        """A new key, stored as ``wrangler kv key put`` or the admin API would store it."""
        key, record = new_key("tests", **fields)
        self.kv.entries[f"key:{record.key_id}"] = json.dumps(record.to_dict())
        return key, record


def bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


@pytest.fixture
def worker(entry: ModuleType) -> Worker:
    return Worker(entry)


@pytest.fixture
def key(worker: Worker) -> str:
    return worker.add_key()[0]


def sdk_request(method: str, url: str, **kwargs: Any) -> Any:
    """The request as the SDK hands it over: ``workers.Request`` around the JS one."""
    from workers import Request

    return Request(js_request(method, url, **kwargs))


@pytest.mark.parametrize("wrap", [False, True], ids=["js-request", "sdk-request"])
def test_health_reaches_the_app(runtime, entry, wrap):
    make = sdk_request if wrap else js_request
    response, body = serve(runtime, entry, worker_env(FakeAI()), make("GET", f"{BASE}/health"))
    assert response.status == 200
    assert response.headers.get("content-type") == "application/json"
    assert response.headers.get("x-request-id").startswith("req_")
    assert json.loads(body) == {"status": "ok", "backend": "workers-ai"}


def test_models_answers_json(runtime, entry, worker, key):
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 200
    models = json.loads(body)["models"]
    assert "@cf/meta/llama-3.2-3b-instruct" in [model["id"] for model in models]


def test_generate_returns_the_text_env_ai_generated(runtime, entry):
    ai = FakeAI(
        {
            "response": "Es war einmal ein Fuchs.",
            "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
        }
    )
    worker = Worker(entry, ai, LLM_API_DEFAULT_MODEL="llama-3.2-3b-instruct")
    key, _ = worker.add_key()
    request = js_request(
        "POST",
        f"{BASE}/api/llm/generate",
        json_body={"prompt": "Erzähl mir eine Geschichte"},
        headers=bearer(key),
    )

    response, body = serve(runtime, entry, worker.env, request)

    assert response.status == 200
    assert response.headers.get("x-llm-backend") == "workers-ai"
    assert json.loads(body) == {
        "text": "Es war einmal ein Fuchs.",
        "model": "@cf/meta/llama-3.2-3b-instruct",
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
        "finish_reason": "stop",
    }
    model, inputs, options = ai.calls[0]
    assert model == "@cf/meta/llama-3.2-3b-instruct"  # the default from the Worker's vars
    assert isinstance(inputs, JsObject)
    assert options.to_py() == {"rejectIfBusy": True}  # a busy model fails fast (issue 14)
    assert ai.inputs()["prompt"] == "Erzähl mir eine Geschichte"


def test_an_upstream_capacity_error_is_a_503_with_retry_after(runtime, entry):
    ai = FakeAI(JsException("InferenceUpstreamError", "3040: Capacity temporarily exceeded"))
    worker = Worker(entry, ai, LLM_API_BACKEND_RETRIES="0")  # the error, not a retry
    key, _ = worker.add_key()
    request = js_request(
        "POST", f"{BASE}/api/llm/generate", json_body={"prompt": "Hi"}, headers=bearer(key)
    )
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 503
    assert response.headers.get("retry-after") == "2"
    assert json.loads(body) == {"error": "Workers AI: Capacity temporarily exceeded"}


def test_a_stream_is_served_as_it_arrives(runtime, entry):
    upstream = ReadableStream()
    upstream.feed(Uint8Array(b'data: {"response": "Guten "}\n\n'))
    ai = FakeAI(upstream)
    worker = Worker(entry, ai)
    env = worker.env
    key, _ = worker.add_key()
    request = js_request(
        "POST",
        f"{BASE}/api/llm/generate",
        json_body={"prompt": "Hi", "stream": True},
        headers=bearer(key),
    )

    async def go() -> tuple[Response, bytes, bytes]:
        # Were the body buffered, these would wait for an upstream end that never comes.
        fetching = entry.Default(execution_context(), env).fetch(request)
        response = await asyncio.wait_for(fetching, timeout=5)
        reader = response.body.getReader()
        first = (await asyncio.wait_for(reader.read(), timeout=5)).value.to_bytes()
        # only now does the rest exist upstream: the first frame was not held back
        for chunk in (b'data: {"response": "Tag', b'"}\n\ndata: [DONE]\n\n'):
            upstream.feed(Uint8Array(chunk))
        upstream.end()
        rest = []
        while not (step := await reader.read()).done:
            rest.append(step.value.to_bytes())
        await runtime.settle()
        return response, first, b"".join(rest)

    response, first, rest = asyncio.run(go())

    assert response.status == 200
    assert isinstance(response.body, ReadableStream)  # a streaming Response, not a buffer
    assert response.headers.get("content-type").startswith("text/event-stream")
    assert first == b'data: {"response":"Guten "}\n\n'
    events = sse_data((first + rest).decode())
    assert events[1] == {"response": "Tag"}
    assert events[-2]["response"] == "" and "usage" in events[-2]
    assert events[-1] == "[DONE]"
    assert ai.inputs()["stream"] is True


# --- API keys and rate limits ------------------------------------------------------------

UNAUTHORIZED = "Missing or invalid API key; send it as 'Authorization: Bearer <key>'"


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/llm/models", {"error": UNAUTHORIZED}),
        (
            "/api/v1/llm/chat",
            {
                "error": {
                    "code": "UNAUTHORIZED",
                    "message": UNAUTHORIZED,
                    "details": {"retryable": False},
                }
            },
        ),
        (
            "/v1/models",
            {
                "error": {
                    "message": UNAUTHORIZED,
                    "type": "authentication_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        ),
    ],
)
def test_a_request_without_a_key_is_401_in_its_familys_envelope(
    runtime, entry, worker, path, envelope
):
    response, body = serve(runtime, entry, worker.env, js_request("GET", f"{BASE}{path}"))
    assert response.status == 401
    assert response.headers.get("www-authenticate") == "Bearer"
    assert json.loads(body) == envelope
    assert worker.objects.calls == []  # no quota spent on a refusal


def test_an_unknown_or_revoked_key_is_401(runtime, entry, worker):
    key, record = worker.add_key()
    unknown, _ = new_key("never stored")
    for presented in (unknown, key[:-1] + ("A" if key[-1] != "A" else "B")):
        request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(presented))
        assert serve(runtime, entry, worker.env, request)[0].status == 401
    # Revoked by this isolate (seen at once; a revoke elsewhere once this isolate's copy
    # expires: tests/worker/test_state.py)
    platform = entry.provider({"env": entry.Default(execution_context(), worker.env).env})
    assert asyncio.run(platform.keys.revoke(record.key_id)) is True
    assert json.loads(worker.kv.entries[f"key:{record.key_id}"])["revoked"] is True
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    assert serve(runtime, entry, worker.env, request)[0].status == 401


def test_a_valid_key_is_served_with_its_rate_limit_headers(runtime, entry, worker, key):
    request = js_request("GET", f"{BASE}/v1/models", headers=bearer(key))
    response, _ = serve(runtime, entry, worker.env, request)
    assert response.status == 200
    assert response.headers.get("x-ratelimit-limit-requests") == "100"  # LLM_API_RATE_LIMIT_RPM
    assert response.headers.get("x-ratelimit-remaining-requests") == "99"
    assert response.headers.get("x-ratelimit-reset-requests") == "1m0s"
    assert response.headers.get("ratelimit-policy") == '"default";q=100;w=60'


def test_the_101st_request_in_a_minute_is_429_with_retry_after(runtime, entry, worker, key):
    def models() -> tuple[Response, bytes]:
        request = js_request("GET", f"{BASE}/v1/models", headers=bearer(key))
        return serve(runtime, entry, worker.env, request)

    statuses = [models()[0].status for _ in range(100)]
    assert statuses == [200] * 100
    response, body = models()
    assert response.status == 429
    assert 1 <= int(response.headers.get("retry-after")) <= 60
    assert response.headers.get("x-ratelimit-remaining-requests") == "0"
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    other_key, _ = worker.add_key()
    request = js_request("GET", f"{BASE}/v1/models", headers=bearer(other_key))
    assert serve(runtime, entry, worker.env, request)[0].status == 200  # its own window


def test_a_keys_own_rpm_overrides_the_default(runtime, entry, worker):
    key, record = worker.add_key(rpm=2)
    request = lambda: js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))  # noqa: E731
    statuses = [serve(runtime, entry, worker.env, request())[0].status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert list(worker.objects.instances) == [record.key_id]  # the key's own object


def test_usage_is_recorded_in_the_keys_durable_object(runtime, entry):
    ai = FakeAI(
        {
            "response": "Hallo!",
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }
    )
    worker = Worker(entry, ai)
    key, record = worker.add_key()
    generate = js_request(
        "POST", f"{BASE}/api/llm/generate", json_body={"prompt": "Hi"}, headers=bearer(key)
    )
    assert serve(runtime, entry, worker.env, generate)[0].status == 200

    response, body = serve(
        runtime, entry, worker.env, js_request("GET", f"{BASE}/api/llm/usage", headers=bearer(key))
    )

    assert response.status == 200
    usage = json.loads(body)
    assert usage["key_id"] == record.key_id
    [day] = usage["days"]
    assert (day["requests"], day["prompt_tokens"], day["completion_tokens"]) == (1, 12, 3)
    assert [call[1] for call in worker.objects.calls].count("record_usage") == 1


def test_without_api_keys_every_api_request_is_refused_and_health_still_answers(runtime, entry):
    worker = Worker(entry)
    key, _ = worker.add_key()  # in a namespace the Worker is not bound to
    env = worker_env(FakeAI(), RATE_LIMITER=worker.objects)
    for path in ("/api/llm/models", "/api/v1/llm/chat", "/v1/models"):
        request = js_request("GET", f"{BASE}{path}", headers=bearer(key))
        assert serve(runtime, entry, env, request)[0].status == 401, path
    response, body = serve(runtime, entry, env, js_request("GET", f"{BASE}/health"))
    assert response.status == 200 and json.loads(body)["status"] == "ok"


def test_without_rate_limiter_a_keyed_request_is_never_served(runtime, entry, worker, key):
    env = worker_env(FakeAI(), API_KEYS=worker.kv)
    request = js_request("GET", f"{BASE}/v1/models", headers=bearer(key))
    response, body = serve(runtime, entry, env, request)
    assert response.status >= 500
    assert "data" not in json.loads(body)  # not the model list: fail closed


def test_without_rate_limiter_a_keyed_request_is_refused_with_a_503(runtime, entry, worker, key):
    env = worker_env(FakeAI(), API_KEYS=worker.kv)
    request = js_request("GET", f"{BASE}/v1/models", headers=bearer(key))
    response, body = serve(runtime, entry, env, request)
    assert response.status == 503
    assert "RATE_LIMITER" in json.loads(body)["error"]["message"]


# --- the entrypoint ------------------------------------------------------------------------


def test_each_request_gets_a_new_entrypoint_but_the_same_app_and_platform(runtime, entry):
    env = worker_env(FakeAI())
    first = entry.Default(execution_context(), env)
    second = entry.Default(execution_context(), env)
    assert first.env is not second.env  # the SDK wraps env per entrypoint instance
    platform = entry.provider({"env": first.env})
    assert entry.provider({"env": second.env}) is platform
    assert entry.app.state.platform_provider is entry.provider


def test_fetch_passes_the_execution_context_to_the_asgi_adapter(runtime, entry, monkeypatch):
    # SDKs before 1.1 (and workerd's built-in adapter) keep a streamed response alive with
    # ctx.waitUntil, so without ctx a stream failed there; 1.9 takes ctx and ignores it.
    seen: list[Any] = []
    adapter = entry.asgi.fetch

    async def spy(app: Any, request: Any, env: Any, ctx: Any = None, **kwargs: Any) -> Any:
        seen.append(ctx)
        return await adapter(app, request, env, ctx, **kwargs)

    monkeypatch.setattr(entry.asgi, "fetch", spy)
    context = execution_context()
    default = entry.Default(context, worker_env(FakeAI()))

    async def go() -> Any:
        response = await default.fetch(js_request("GET", f"{BASE}/health"))
        await runtime.settle()
        return response

    assert asyncio.run(go()).status == 200
    assert seen == [default.ctx] and default.ctx is not None


def test_the_rate_limiter_runs_sql_on_the_js_storage_not_the_sdks_wrapper(runtime, entry):
    # The SDK's wrapper converts every exec argument and result (python_to_rpc, a wrapped
    # cursor): CPU on every hit under Pyodide, for values that are plain ints and strings.
    storage = JsStorage()
    limiter = entry.RateLimiter(JsObject({"storage": storage}), worker_env(FakeAI()))
    assert limiter._state._sql is storage.sql
    assert asyncio.run(limiter.hit(1))["admitted"]
    assert not asyncio.run(limiter.hit(1))["admitted"]


def test_the_platform_calls_the_js_bindings_not_the_sdks_wrappers(runtime, entry, worker):
    # The SDK wraps env per request; its binding wrappers convert every argument and result
    # again, CPU on each KV read, Durable Object call and AI run under Pyodide.
    ai = worker.env.AI
    platform = entry.provider({"env": entry.Default(execution_context(), worker.env).env})
    assert platform.keys._kv is worker.kv
    assert platform.limiter._namespace is worker.objects
    assert platform.usage._namespace is worker.objects
    assert platform.ai._ai is ai


def test_the_worker_app_does_not_watch_for_disconnects_its_adapter_never_reports(runtime, entry):
    # The SDK's adapter sends http.disconnect only once the response is handed over: the
    # watch could never cancel anything there, and cost a timer (then a task) per request.
    from llm_api.app import create_app
    from llm_api.http.disconnect import CancelOnDisconnectMiddleware

    def middleware(app: Any) -> list[type]:
        return [item.cls for item in app.user_middleware]

    assert CancelOnDisconnectMiddleware not in middleware(entry.app)
    assert CancelOnDisconnectMiddleware in middleware(create_app(lambda scope: None))


def test_the_fakes_are_gone_after_the_fixture():
    with installed() as runtime:
        runtime.load_entry()
        assert "js" in sys.modules and "workers" in sys.modules
    for name in ("js", "pyodide", "pyodide.ffi", "workers", "workers.asgi", "entry"):
        assert name not in sys.modules
    for module in ("provider", "ffi", "state"):
        assert f"llm_api.platform.workers.{module}" not in sys.modules


def test_the_app_does_not_import_the_worker_platform():
    code = (
        "import sys, llm_api.app; "
        "leaked = [m for m in ('js', 'pyodide', 'workers', 'llm_api.platform.workers.provider', "
        "'llm_api.platform.workers.ffi', 'llm_api.platform.workers.state') "
        "if m in sys.modules]; "
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
