"""src/entry.py: a request through ``Default.fetch`` and the real SDK's ASGI adapter.

workerd is not available here, so the JS side is tests/workers_fake; the workers SDK,
the adapter, the app and ``llm_api.platform.workers`` are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import sse_data
from tests.workers_fake import Runtime, installed
from tests.workers_fake.bindings import (
    FakeAI,
    execution_context,
    js_request,
    read_body,
    worker_env,
)
from tests.workers_fake.ffi import JsException, JsObject, Uint8Array
from tests.workers_fake.js import ReadableStream, Response

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


def test_models_answers_json(runtime, entry):
    response, body = serve(
        runtime, entry, worker_env(FakeAI()), js_request("GET", f"{BASE}/api/llm/models")
    )
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
    env = worker_env(ai, LLM_API_DEFAULT_MODEL="llama-3.1-8b-instruct")
    request = js_request(
        "POST", f"{BASE}/api/llm/generate", json_body={"prompt": "Erzähl mir eine Geschichte"}
    )

    response, body = serve(runtime, entry, env, request)

    assert response.status == 200
    assert response.headers.get("x-llm-backend") == "workers-ai"
    assert json.loads(body) == {
        "text": "Es war einmal ein Fuchs.",
        "model": "@cf/meta/llama-3.1-8b-instruct",
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
    }
    model, inputs = ai.calls[0]
    assert model == "@cf/meta/llama-3.1-8b-instruct"  # the default from the Worker's vars
    assert isinstance(inputs, JsObject)
    assert ai.inputs()["prompt"] == "Erzähl mir eine Geschichte"


def test_an_upstream_capacity_error_is_a_503_with_retry_after(runtime, entry):
    ai = FakeAI(JsException("InferenceUpstreamError", "3040: Capacity temporarily exceeded"))
    request = js_request("POST", f"{BASE}/api/llm/generate", json_body={"prompt": "Hi"})
    response, body = serve(runtime, entry, worker_env(ai), request)
    assert response.status == 503
    assert response.headers.get("retry-after") == "2"
    assert json.loads(body) == {"error": "Workers AI: Capacity temporarily exceeded"}


def test_a_stream_is_served_as_it_arrives(runtime, entry):
    upstream = ReadableStream()
    upstream.feed(Uint8Array(b'data: {"response": "Guten "}\n\n'))
    ai = FakeAI(upstream)
    env = worker_env(ai)
    request = js_request(
        "POST", f"{BASE}/api/llm/generate", json_body={"prompt": "Hi", "stream": True}
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


def test_each_request_gets_a_new_entrypoint_but_the_same_app_and_platform(runtime, entry):
    from llm_api.platform.workers import workers_platform_provider

    env = worker_env(FakeAI())
    first = entry.Default(execution_context(), env)
    second = entry.Default(execution_context(), env)
    assert first.env is not second.env  # the SDK wraps env per entrypoint instance
    platform = workers_platform_provider({"env": first.env})
    assert workers_platform_provider({"env": second.env}) is platform


def test_the_fakes_are_gone_after_the_fixture():
    with installed() as runtime:
        runtime.load_entry()
        assert "js" in sys.modules and "workers" in sys.modules
    for name in ("js", "pyodide", "pyodide.ffi", "workers", "workers.asgi", "entry"):
        assert name not in sys.modules
    assert "llm_api.platform.workers" not in sys.modules


def test_the_app_does_not_import_the_worker_platform():
    code = (
        "import sys, llm_api.app; "
        "leaked = [m for m in ('js', 'pyodide', 'workers', 'llm_api.platform.workers') "
        "if m in sys.modules]; "
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
