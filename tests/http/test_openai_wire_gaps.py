"""The smaller OpenAI wire gaps of issue 15: fields real clients read, and OpenAI's codes.

Before: answers had no ``system_fingerprint``, ``service_tier`` or message ``refusal``;
every validation 400 said ``code: null`` where OpenAI says ``decimal_above_max_value``,
``invalid_type``, ``missing_required_parameter``...; an ``image_url`` part was a 400
naming ``messages[0].content.str`` with three pydantic complaints about text parts.
"""

from __future__ import annotations

import pytest

from tests.support.sse import sse_data

MODEL = "llama-3.2-3b-instruct"  # text only in the catalog
VISION_MODEL = "llama-4-scout-17b-16e-instruct"
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def chat(client, **fields):
    payload = {"model": MODEL, **fields}
    payload.setdefault("messages", [{"role": "user", "content": "hi"}])
    return client.post("/v1/chat/completions", json=payload)


def test_answers_carry_system_fingerprint_service_tier_and_refusal(client):
    body = chat(client).json()
    assert body["system_fingerprint"] is None
    assert body["service_tier"] == "default"
    assert body["choices"][0]["message"]["refusal"] is None


@pytest.mark.parametrize("include_usage", [False, True])
def test_every_chunk_carries_system_fingerprint_and_service_tier(client, include_usage):
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    response = chat(client, stream=True, **options)
    chunks = sse_data(response.text)[:-1]
    assert len(chunks) >= 3
    for chunk in chunks:
        assert (chunk["service_tier"], chunk["system_fingerprint"]) == ("default", None)


def test_the_v1_rest_family_shares_the_new_fields(client):
    response = client.post(
        "/api/v1/llm/chat", json={"messages": [{"role": "user", "content": "x"}]}
    )
    body = response.json()
    assert (body["service_tier"], body["system_fingerprint"]) == ("default", None)
    assert body["choices"][0]["message"]["refusal"] is None


@pytest.mark.parametrize("tier", ["auto", "default", "flex", "priority"])
def test_service_tier_is_accepted_and_answered_default(client, tier):
    response = chat(client, service_tier=tier)
    assert response.status_code == 200
    assert response.json()["service_tier"] == "default"


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"temperature": 5}, "temperature", "decimal_above_max_value"),
        ({"temperature": -0.5}, "temperature", "decimal_below_min_value"),
        ({"top_p": 0}, "top_p", "decimal_below_min_value"),
        ({"presence_penalty": 2.5}, "presence_penalty", "decimal_above_max_value"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
        ({"temperature": "hot"}, "temperature", "invalid_type"),
        ({"max_tokens": 1.5}, "max_tokens", "invalid_type"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"messages": []}, "messages", "empty_array"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"service_tier": "gold"}, "service_tier", "invalid_value"),
        ({"prompt_cache_key": "k" * 300}, "prompt_cache_key", "string_above_max_length"),
    ],
)
def test_validation_errors_carry_openais_code(client, fields, param, code):
    response = chat(client, **fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_a_missing_field_is_missing_required_parameter(client):
    response = client.post("/v1/chat/completions", json={"model": MODEL})
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("messages", "missing_required_parameter")


def test_a_content_part_without_type_is_missing_required_parameter(client):
    response = chat(client, messages=[{"role": "user", "content": [{"text": "x"}]}])
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (
        "messages[0].content[0]",
        "missing_required_parameter",
    )


def test_the_v1_rest_family_keeps_its_own_codes(client):
    response = client.post("/api/v1/llm/chat", json={"messages": [], "temperature": 9})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_image_url_part_is_a_400_naming_its_place(client, ai):
    parts = [{"type": "text", "text": "what is this?"}, IMAGE]
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": parts}]
    response = chat(client, messages=messages)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "messages[1].content[1]"
    assert error["message"].startswith("messages[1].content[1]: 'image_url' content")
    assert f"the model '{MODEL}' takes text only" in error["message"]
    assert ai.calls == []


def test_an_image_for_a_vision_model_is_a_400_saying_only_text_is_sent(client, ai):
    response = chat(client, model=VISION_MODEL, messages=[{"role": "user", "content": [IMAGE]}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[0]"
    assert "this server sends models text only" in error["message"]
    assert ai.calls == []


@pytest.mark.parametrize("kind", ["input_audio", "file"])
def test_other_non_text_parts_are_refused_the_same_way(client, kind):
    response = chat(client, messages=[{"role": "user", "content": [{"type": kind}]}])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[0]"


def test_an_unknown_part_type_is_invalid_value(client):
    response = chat(client, messages=[{"role": "user", "content": [{"type": "image"}]}])
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("messages[0].content[0]", "invalid_value")


def test_text_parts_still_join_into_the_prompt(client, ai):
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert chat(client, messages=[{"role": "user", "content": parts}]).status_code == 200
    assert ai.calls[0]["inputs"]["messages"] == [{"role": "user", "content": "ab"}]
