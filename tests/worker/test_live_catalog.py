"""The Worker's catalog (issue 14 items 1-3): ``env.AI.models()`` read in pages and merged
over the table, a model only the account lists usable, a retired id served by its successor
with ``Deprecation``, and a 5028 from ``env.AI.run`` answered 410."""

from __future__ import annotations

import json
import time

from tests.support.model_listing import NEWCOMER, listing
from tests.support.workers_fake.bindings import FakeAI, FakeAIWithModels, js_request, worker_env
from tests.support.workers_fake.ffi import JsException
from tests.worker.test_entry import BASE, Worker, bearer, entry, runtime, serve

__all__ = ["entry", "runtime"]  # the fixtures, used by name


def test_the_worker_lists_models_from_env_ai_models_in_pages(runtime, entry):
    ai = FakeAIWithModels(listing=listing())
    worker = Worker(entry, ai)
    key, _ = worker.add_key()
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 200
    ids = [model["id"] for model in json.loads(body)["models"]]
    assert ids[:3] == [
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "@cf/meta/llama-3.2-3b-instruct",
        "@cf/meta/llama-4-scout-17b-16e-instruct",
    ]
    assert NEWCOMER in ids and "@cf/filler/model-49" in ids
    assert ai.model_searches == [
        {"task": "Text Generation", "per_page": 50, "page": 1},
        {"task": "Text Generation", "per_page": 50, "page": 2},
    ]
    # a second request in the same isolate uses the cached copy
    serve(runtime, entry, worker.env, js_request("GET", f"{BASE}/v1/models", headers=bearer(key)))
    assert len(ai.model_searches) == 2


def test_the_worker_calls_a_model_only_env_ai_models_lists(runtime, entry):
    ai = FakeAIWithModels({"response": "hello"}, listing=listing())
    worker = Worker(entry, ai)
    key, _ = worker.add_key()
    request = js_request(
        "POST", f"{BASE}/api/llm/generate", json_body={"prompt": "hi", "model": NEWCOMER},
        headers=bearer(key),
    )  # fmt: skip
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 200, body
    assert json.loads(body)["model"] == NEWCOMER
    assert ai.calls[0][0] == NEWCOMER


def test_a_worker_without_models_serves_the_table(runtime, entry):
    worker = Worker(entry, FakeAI())
    key, _ = worker.add_key()
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 200
    ids = [model["id"] for model in json.loads(body)["models"]]
    assert "@cf/zai-org/glm-4.7-flash" in ids and NEWCOMER not in ids


def test_the_worker_answers_a_retired_id_with_its_successor(runtime, entry):
    ai = FakeAI({"response": "hi"})
    worker = Worker(entry, ai, LLM_API_MODEL_SUCCESSORS="llama-3-8b-instruct=glm-4.7-flash")
    key, _ = worker.add_key()
    body = {"model": "llama-3-8b-instruct", "messages": [{"role": "user", "content": "x"}]}
    request = js_request("POST", f"{BASE}/v1/chat/completions", json_body=body, headers=bearer(key))
    response, raw = serve(runtime, entry, worker.env, request)
    assert response.status == 200, raw
    assert response.headers.get("deprecation") == "@1780099200"
    assert ai.calls[0][0] == "@cf/zai-org/glm-4.7-flash"  # the Worker var's pin


def test_a_5028_from_env_ai_is_a_410_and_the_model_stays_retired(runtime, entry):
    message = "5028: This model was deprecated on 2026-05-30. Please use an alternative model"
    ai = FakeAI(JsException("AiError", message))
    worker = Worker(entry, ai, LLM_API_BACKEND_RETRIES="0")
    key, _ = worker.add_key()
    body = {"prompt": "x", "model": "qwen3-30b-a3b-fp8"}
    request = js_request("POST", f"{BASE}/api/llm/generate", json_body=body, headers=bearer(key))
    response, raw = serve(runtime, entry, worker.env, request)
    assert response.status == 410, raw
    assert "LLM_API_MODEL_SUCCESSORS" in json.loads(raw)["error"]
    again = js_request("POST", f"{BASE}/api/llm/generate", json_body=body, headers=bearer(key))
    assert serve(runtime, entry, worker.env, again)[0].status == 410
    assert len(ai.calls) == 1  # the isolate's catalog knows now


def test_a_second_isolate_reads_the_listing_from_kv(runtime, entry):
    first = Worker(entry, FakeAIWithModels(listing=listing()))
    key, _ = first.add_key()
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    serve(runtime, entry, first.env, request)
    stored = json.loads(first.kv.entries["catalog:v1"])
    assert len(stored["entries"]) == 57 and stored["expires_at"] > time.time()
    # another isolate (a new env, the same KV namespace) lists nothing itself
    ai = FakeAIWithModels(listing=[])
    second = Worker(entry, ai)
    second.kv = first.kv
    second.env = worker_env(ai, API_KEYS=first.kv, RATE_LIMITER=second.objects)
    response, body = serve(runtime, entry, second.env, request)
    assert response.status == 200
    assert NEWCOMER in [model["id"] for model in json.loads(body)["models"]]
    assert ai.model_searches == []


def test_an_expired_kv_listing_is_fetched_again(runtime, entry):
    ai = FakeAIWithModels(listing=listing())
    worker = Worker(entry, ai)
    stale = {"expires_at": time.time() - 1, "entries": []}
    worker.kv.entries["catalog:v1"] = json.dumps(stale)
    key, _ = worker.add_key()
    request = js_request("GET", f"{BASE}/api/llm/models", headers=bearer(key))
    response, body = serve(runtime, entry, worker.env, request)
    assert response.status == 200
    assert NEWCOMER in [model["id"] for model in json.loads(body)["models"]]
    assert len(ai.model_searches) == 2
    assert len(json.loads(worker.kv.entries["catalog:v1"])["entries"]) == 57
