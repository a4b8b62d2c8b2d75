"""The OpenAI-compatible family (/v1) over ASGI: exact shapes and framing."""

from __future__ import annotations

import json

import pytest

from llm_api.catalog import MODELS
from llm_api.errors import BackendBusy, BackendError
from tests.support.sse import sse_data

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def chat(client, **fields):
    payload = {"model": "llama-3.3-70b-instruct-fp8-fast", **fields}
    payload.setdefault("messages", [{"role": "user", "content": "hi there"}])
    return client.post("/v1/chat/completions", json=payload)


def test_completion_has_openai_shape(client, ai):
    response = chat(client, temperature=0, max_tokens=50, seed=3, stop="END")
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == MODEL
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "echo: hi there", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert ai.calls[0]["inputs"] == {
        "messages": [{"role": "user", "content": "hi there"}],
        "max_tokens": 50,
        "temperature": 0,
        "seed": 3,
        "stop": ["END"],
    }


def test_content_parts_developer_role_and_max_completion_tokens(client, ai):
    messages = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]
    assert chat(client, messages=messages, max_completion_tokens=9).status_code == 200
    inputs = ai.calls[0]["inputs"]
    assert inputs["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "ab"},
    ]
    assert inputs["max_tokens"] == 9


def test_length_finish_reason_when_max_tokens_cut_the_answer(client, ai):
    ai.script(text="one two three", usage={"prompt_tokens": 1, "completion_tokens": 3})
    body = chat(client, max_tokens=3).json()
    assert body["choices"][0]["finish_reason"] == "length"


def test_tool_calls_have_ids_and_string_arguments(client, ai):
    ai.script(text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Lyon"}}])
    body = chat(client, tools=TOOLS, tool_choice="auto").json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Lyon"}'}
    assert ai.calls[0]["inputs"]["tool_choice"] == "auto"


def test_tool_choice_none_sends_no_tools(client, ai):
    assert chat(client, tools=TOOLS, tool_choice="none").status_code == 200
    assert "tools" not in ai.calls[0]["inputs"]


def test_assistant_tool_calls_and_tool_results_are_passed_back(client, ai):
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    assert chat(client, messages=messages, tools=TOOLS).status_code == 200
    sent = ai.calls[0]["inputs"]["messages"]
    assert sent[1]["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}
    ]
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}


def test_stream_chunks_share_id_role_first_finish_once_usage_last(client, ai):
    response = chat(client, stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["stop"]
    assert finishes[-1] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "echo: hi there"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_stream_without_include_usage_has_no_usage_field(client):
    chunks = sse_data(chat(client, stream=True).text)[:-1]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_calls_arrive_as_indexed_deltas(client, ai):
    ai.script(
        text="",
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Rome"}},
            {"name": "get_weather", "arguments": {"city": "Bern"}},
        ],
    )
    chunks = sse_data(chat(client, tools=TOOLS, stream=True).text)[:-1]
    calls = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["index"] for c in calls] == [0, 1]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Rome"},
        {"city": "Bern"},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_error_after_stream_started_is_an_openai_error_event(client, ai):
    ai.script(text="a b c", fail_after_pieces=1, stream_error=BackendError("upstream died"))
    events = sse_data(chat(client, stream=True).text)
    assert events[-2] == {
        "error": {
            "message": "upstream died",
            "type": "server_error",
            "param": None,
            "code": "backend_error",
        }
    }
    assert events[-1] == "[DONE]"


def test_models_list_and_retrieve(client):
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    ids = [entry["id"] for entry in listing["data"]]
    assert ids[:6] == [model.id for model in MODELS]  # the seed's six first, then today's
    assert "@cf/zai-org/glm-4.7-flash" in ids[6:]
    assert next(e for e in listing["data"] if e["id"].endswith("glm-4.7-flash"))["owned_by"] == (
        "zai-org"
    )
    assert listing["data"][0] == {
        "id": MODEL,
        "object": "model",
        "created": 1695859200,
        "owned_by": "meta",
    }
    assert client.get(f"/v1/models/{MODEL}").json()["id"] == MODEL
    assert client.get("/v1/models/llama-3-8b-instruct").json()["id"].endswith("llama-3-8b-instruct")
    missing = client.get("/v1/models/gpt-5")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("fields", "status", "param", "fragment"),
    [
        ({"model": "gpt-4o"}, 404, "model", "does not exist"),
        ({"n": 2}, 400, "n", "only n=1"),
        ({"stream_options": {"include_usage": True}}, 400, "stream_options", "stream is true"),
        ({"tool_choice": "required"}, 400, "tool_choice", "only allowed when tools"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            400,
            "tool_choice",
            "not one of the given tools",
        ),
        ({"temperature": 3}, 400, "temperature", "less than or equal to 2"),
        ({"messages": []}, 400, "messages", "at least 1 item"),
        ({"response_format": {"type": "json_schema"}}, 400, "response_format", "json_schema is"),
        (
            {"model": "llama-3.2-3b-instruct", "tools": TOOLS},
            400,
            "tools",
            "does not support function calling",
        ),
    ],
)
def test_invalid_requests_get_openai_errors(client, fields, status, param, fragment):
    response = chat(client, **fields)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"


def test_unknown_fields_are_ignored(client):
    assert chat(client, logit_bias={"1": 2}, parallel_tool_calls=True).status_code == 200


def test_backend_busy_is_503_retryable_with_retry_after(client, ai):
    ai.script(raise_error=BackendBusy("Workers AI: capacity", retry_after=2))
    response = chat(client)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["type"] == "server_error"


def test_unknown_route_under_v1_uses_the_openai_envelope(client):
    response = client.get("/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_deeply_nested_tool_call_arguments_in_history_are_a_400(client):
    """Arguments nested past the JSON decoder's stack were a RecursionError: a 500."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[" * 100_000}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    response = chat(client, messages=messages)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"
