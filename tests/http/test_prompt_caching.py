"""Prompt caching (issue 14, item 7; facts-14 §4): the conversation id reaches the binding as
``extraHeaders["x-session-affinity"]``, and cached prompt tokens are reported in /v1's
``usage.prompt_tokens_details.cached_tokens`` and priced at the cached rate."""

from __future__ import annotations

import asyncio

import pytest

from llm_api.binding.accounted import KeyAccount
from llm_api.catalog import resolve_model
from llm_api.keys import new_key
from llm_api.services.generation import Caller, GenerationRequest, complete
from llm_api.usage import MemoryUsageStore
from tests.support.scripted_ai import ScriptedAI
from tests.support.sse import sse_data

MESSAGES = [{"role": "user", "content": "hi"}]
CHAT = {"model": "llama-3.2-3b-instruct", "messages": MESSAGES}
ROUTES = {
    "native": ("/api/llm/generate", {"prompt": "hi"}),
    "v1": ("/api/v1/llm/chat", {"messages": MESSAGES}),
    "openai": ("/v1/chat/completions", CHAT),
}
CACHED_USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 5,
    "total_tokens": 105,
    "prompt_tokens_details": {"cached_tokens": 80},
}


# --- session affinity -------------------------------------------------------------------


@pytest.mark.parametrize("family", ROUTES)
def test_the_session_affinity_header_reaches_the_binding_options(client, ai, family):
    path, body = ROUTES[family]
    response = client.post(path, json=body, headers={"x-session-affinity": "conversation-42"})
    assert response.status_code == 200
    assert ai.calls[0]["options"] == {"extraHeaders": {"x-session-affinity": "conversation-42"}}


@pytest.mark.parametrize("family", ROUTES)
def test_without_a_session_no_options_are_sent(client, ai, family):
    path, body = ROUTES[family]
    assert client.post(path, json=body).status_code == 200
    assert ai.calls[0]["options"] is None


def test_prompt_cache_key_is_the_session_and_wins_over_the_header(client, ai):
    body = {**CHAT, "prompt_cache_key": "conv-7"}
    response = client.post("/v1/chat/completions", json=body, headers={"x-session-affinity": "x"})
    assert response.status_code == 200
    assert ai.calls[0]["options"] == {"extraHeaders": {"x-session-affinity": "conv-7"}}


def test_a_streamed_request_carries_the_session_too(client, ai):
    body = {**CHAT, "stream": True, "prompt_cache_key": "conv-8"}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.read()
    assert ai.calls[0]["options"] == {"extraHeaders": {"x-session-affinity": "conv-8"}}


@pytest.mark.parametrize(
    ("headers", "body", "param"),
    [
        ({"x-session-affinity": "x" * 257}, CHAT, "x-session-affinity"),
        ({}, {**CHAT, "prompt_cache_key": "conv\u00e9"}, "prompt_cache_key"),
        ({}, {**CHAT, "prompt_cache_key": "a\tb"}, "prompt_cache_key"),
    ],
)
def test_a_session_id_that_cannot_be_a_header_is_a_400(client, ai, headers, body, param):
    response = client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert ai.calls == []


def test_an_overlong_prompt_cache_key_is_a_400(client, ai):
    response = client.post("/v1/chat/completions", json={**CHAT, "prompt_cache_key": "k" * 257})
    assert response.status_code == 400 and ai.calls == []


# --- cached tokens ----------------------------------------------------------------------


@pytest.mark.parametrize("family", ["openai", "v1"])
def test_cached_tokens_are_reported_in_the_chat_completion_usage(client, ai, family):
    ai.script(text="hello", usage=CACHED_USAGE)
    path, body = ROUTES[family]
    usage = client.post(path, json=body).json()["usage"]
    assert usage == CACHED_USAGE


def test_cached_tokens_are_reported_in_the_streamed_usage_chunk(client, ai):
    ai.script(text="hello", usage=CACHED_USAGE)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        events = sse_data(response.read().decode())
    assert events[-2]["choices"] == [] and events[-2]["usage"] == CACHED_USAGE


def test_no_cached_tokens_reported_means_no_details(client, ai):
    ai.script(text="hello", usage={"prompt_tokens": 4, "completion_tokens": 1})
    usage = client.post("/v1/chat/completions", json=CHAT).json()["usage"]
    assert usage == {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}


@pytest.mark.parametrize("cached", [101, -1, "80", 1.5, None])
def test_a_cached_count_that_is_not_part_of_the_prompt_is_dropped(client, ai, cached):
    usage = {**CACHED_USAGE, "prompt_tokens_details": {"cached_tokens": cached}}
    ai.script(text="hello", usage=usage)
    reported = client.post("/v1/chat/completions", json=CHAT).json()["usage"]
    assert "prompt_tokens_details" not in reported and reported["prompt_tokens"] == 100


def test_the_native_family_keeps_its_three_counts(client, ai):
    ai.script(text="hello", usage=CACHED_USAGE)
    assert client.post("/api/llm/generate", json={"prompt": "hi"}).json()["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
    }
    ai.script(text="hello", usage=CACHED_USAGE)
    with client.stream("POST", "/api/llm/generate", json={"prompt": "hi", "stream": True}) as r:
        events = sse_data(r.read().decode())
    assert events[-2]["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
    }


def test_cached_tokens_are_priced_at_the_cached_rate():
    # kimi-k2.6: 0.95 per M input, 0.16 per M cached input, 4.00 per M output [M-kimi]
    ai, store = ScriptedAI(), MemoryUsageStore()
    key_account = KeyAccount(new_key("app")[1], store)
    ai.script(text="hello", usage=CACHED_USAGE)
    request = GenerationRequest(model=resolve_model("kimi-k2.6"), prompt="hi")
    asyncio.run(complete(Caller(ai, key_account), request))
    [entry] = asyncio.run(store.usage(key_account.key.key_id))
    assert entry.cost_usd == pytest.approx((20 * 0.95 + 80 * 0.16 + 5 * 4.00) / 1_000_000)


def test_without_a_cached_price_cached_tokens_cost_the_input_rate():
    ai, store = ScriptedAI(), MemoryUsageStore()
    key_account = KeyAccount(new_key("app")[1], store)
    ai.script(text="hello", usage=CACHED_USAGE)
    model = resolve_model("llama-3.2-3b-instruct")
    asyncio.run(complete(Caller(ai, key_account), GenerationRequest(model=model, prompt="hi")))
    [entry] = asyncio.run(store.usage(key_account.key.key_id))
    assert entry.cost_usd == pytest.approx(model.estimated_cost(100, 5))
