"""Workers AI's error codes thrown by the Worker's fake ``env.AI``, through ``src/entry.py``, in
every family (issue 14, item 6); ``rejectIfBusy`` and ``x-session-affinity`` in its options
(items 6 and 7).

The thrown messages are ``fixtures/workers_ai/errors-binding.json``'s, as the binding throws
them (``InferenceUpstreamError``/``AiError`` with ``"<code>: <text>"`` or ``"... (code 5035)"``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import ModuleType, SimpleNamespace

import pytest

from llm_api.binding import upstream_errors
from tests.http.test_workers_ai_error_codes import BINDING_ERRORS, EXPECTED, NOW, check_envelope
from tests.support.workers_fake import Runtime, installed
from tests.support.workers_fake.bindings import FakeAI, js_request
from tests.support.workers_fake.ffi import JsException
from tests.worker.test_entry import BASE, Worker, bearer, serve

#: active in the table, so nothing answers for it before env.AI is called
MODEL = "@cf/meta/llama-3.2-3b-instruct"
MESSAGES = [{"role": "user", "content": "hi"}]
ROUTES = {
    "native": ("/api/llm/generate", {"prompt": "hi", "model": MODEL}),
    "v1": ("/api/v1/llm/chat", {"model": MODEL, "messages": MESSAGES}),
    "openai": ("/v1/chat/completions", {"model": MODEL, "messages": MESSAGES}),
}
#: a 5028 for a model the table thinks active: the day from the message, no successor known
RETIRED_AT_RUN_TIME = "model: 'llama-3.2-3b-instruct' was retired by Cloudflare"


@pytest.fixture
def runtime() -> Runtime:
    with installed() as runtime:
        yield runtime


@pytest.fixture
def entry(runtime: Runtime) -> ModuleType:
    return runtime.load_entry()


def post(runtime, entry, worker, key, path, body, headers=()):
    request = js_request("POST", f"{BASE}{path}", json_body=body, headers=[*bearer(key), *headers])
    response, raw = serve(runtime, entry, worker.env, request)
    return response, json.loads(raw)


@pytest.mark.parametrize("family", ROUTES)
@pytest.mark.parametrize("key", EXPECTED)
def test_each_code_env_ai_throws_has_its_status_and_envelope(
    runtime, entry, monkeypatch, family, key
):
    monkeypatch.setattr(upstream_errors, "time", SimpleNamespace(time=lambda: NOW))
    thrown = BINDING_ERRORS[key]
    ai = FakeAI(JsException(thrown["name"], thrown["message"]))
    worker = Worker(entry, ai, LLM_API_BACKEND_RETRIES="0")  # the error, not a retry
    api_key, _ = worker.add_key()
    path, body = ROUTES[family]
    response, answer = post(runtime, entry, worker, api_key, path, body)
    expected = EXPECTED[key]
    if key == "5028":
        expected = replace(expected, message=RETIRED_AT_RUN_TIME)
    wait = response.headers.get("retry-after")  # JS null when absent
    headers = {"retry-after": wait if isinstance(wait, str) else None}
    check_envelope(family, expected, response.status, headers, answer)


def test_the_daily_allocation_is_not_retried_on_the_worker(runtime, entry, monkeypatch):
    monkeypatch.setattr(upstream_errors, "time", SimpleNamespace(time=lambda: NOW))
    thrown = BINDING_ERRORS["3036"]
    ai = FakeAI(JsException(thrown["name"], thrown["message"]), {"response": "would answer"})
    worker = Worker(entry, ai, LLM_API_BACKEND_RETRIES="2")
    api_key, _ = worker.add_key()
    response, _ = post(runtime, entry, worker, api_key, *ROUTES["native"])
    assert response.status == 429 and response.headers.get("retry-after") == "3601"
    assert len(ai.calls) == 1, "3036 lasts until midnight UTC: retrying cannot help"


def test_reject_if_busy_and_the_session_reach_env_ai_options(runtime, entry):
    ai = FakeAI({"response": "ok"})
    worker = Worker(entry, ai)
    api_key, _ = worker.add_key()
    response, _ = post(
        runtime,
        entry,
        worker,
        api_key,
        *ROUTES["native"],
        headers=[("x-session-affinity", "conversation-42")],
    )
    assert response.status == 200
    _, inputs, options = ai.calls[0]
    assert options.to_py() == {
        "rejectIfBusy": True,
        "extraHeaders": {"x-session-affinity": "conversation-42"},
    }
    assert "extraHeaders" not in inputs.to_py() and "rejectIfBusy" not in inputs.to_py()


def test_prompt_cache_key_becomes_the_session_on_the_worker(runtime, entry):
    ai = FakeAI({"response": "ok"})
    worker = Worker(entry, ai)
    api_key, _ = worker.add_key()
    path, body = ROUTES["openai"]
    response, _ = post(runtime, entry, worker, api_key, path, {**body, "prompt_cache_key": "c-7"})
    assert response.status == 200
    assert ai.calls[0][2].to_py()["extraHeaders"] == {"x-session-affinity": "c-7"}
