"""The native API (/api/llm) over ASGI with the scripted binding."""

from __future__ import annotations

import pytest

from llm_api.errors import BackendBusy, BackendError, BackendTimeout, ModelNotFound
from tests.support.sse import sse_data

FULL_DEFAULT = "@cf/meta/llama-4-scout-17b-16e-instruct"


def test_models_lists_the_six_seed_models_first_then_todays(client):
    response = client.get("/api/llm/models")
    assert response.status_code == 200
    models = response.json()["models"]
    assert [m["id"] for m in models[:6]] == [
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "@cf/meta/llama-3.2-3b-instruct",
        "@cf/meta/llama-4-scout-17b-16e-instruct",
        "@cf/meta/llama-3.1-8b-instruct",
        "@cf/meta/llama-3-8b-instruct",
        "@cf/meta/llama-2-7b-chat-fp16",
    ]
    ids = {m["id"] for m in models[6:]}
    assert {"@cf/openai/gpt-oss-120b", "@cf/zai-org/glm-4.7-flash", "@cf/moonshotai/kimi-k2.6",
            "@cf/meta/llama-3.1-8b-instruct-fast"} <= ids  # fmt: skip
    assert models[1] == {
        "id": "@cf/meta/llama-3.2-3b-instruct",
        "name": "Llama 3.2 3B",
        "contextWindow": 128000,
        "supportsTools": False,
        "costPerMInput": 0.051,
        "costPerMOutput": 0.34,
    }


def test_generate_uses_seed_defaults_and_answers_the_seed_shape(client, ai):
    response = client.post("/api/llm/generate", json={"prompt": "Tell me a story"})
    assert response.status_code == 200
    assert response.headers["x-llm-backend"] == "scripted"
    assert response.headers["x-request-id"].startswith("req_")
    assert response.json() == {
        "text": "echo: Tell me a story",
        "model": FULL_DEFAULT,
        "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9},
        "finish_reason": "stop",
    }
    call = ai.calls[0]
    assert call["model"] == FULL_DEFAULT
    assert call["inputs"] == {
        "prompt": "Tell me a story",
        "max_tokens": 1024,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
    }


@pytest.mark.parametrize("model", ["llama-3.2-3b-instruct", "@cf/meta/llama-3.2-3b-instruct"])
def test_short_and_full_ids_are_accepted_and_answered_with_full_id(client, ai, model):
    response = client.post("/api/llm/generate", json={"prompt": "hi", "model": model, "seed": 7})
    assert response.status_code == 200
    assert response.json()["model"] == "@cf/meta/llama-3.2-3b-instruct"
    assert ai.calls[0]["model"] == "@cf/meta/llama-3.2-3b-instruct"
    assert ai.calls[0]["inputs"]["seed"] == 7


def test_chat_passes_messages_and_returns_text(client, ai):
    messages = [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": "How do I say hello?"},
    ]
    response = client.post("/api/llm/chat/completions", json={"messages": messages})
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "echo: How do I say hello?"
    assert "tool_calls" not in body
    assert ai.calls[0]["inputs"]["messages"] == messages


def test_chat_returns_tool_calls_with_object_arguments(client, ai):
    ai.script(text="", tool_calls=[{"name": "get_tips", "arguments": {"word": "hello"}}])
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_tips",
                "description": "Tips for a word",
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            },
        }
    ]
    response = client.post(
        "/api/llm/chat/completions",
        json={
            "model": "llama-3.3-70b-instruct-fp8-fast",
            "messages": [{"role": "user", "content": "tips for hello"}],
            "tools": tools,
        },
    )
    assert response.status_code == 200
    assert response.json()["tool_calls"] == [{"name": "get_tips", "arguments": {"word": "hello"}}]
    assert ai.calls[0]["inputs"]["tools"] == tools


def test_tools_on_a_model_without_tool_support_is_a_400_that_says_so(client, ai):
    response = client.post(
        "/api/llm/chat/completions",
        json={
            "model": "llama-3.2-3b-instruct",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
    )
    assert response.status_code == 400
    assert "does not support function calling" in response.json()["error"]
    assert ai.calls == []


def test_json_mode_is_passed_on_and_checked(client, ai):
    ai.script(text='{"tip": "practice"}')
    response = client.post(
        "/api/llm/chat/completions",
        json={
            "messages": [{"role": "user", "content": "json please"}],
            "response_format": {"type": "json_object"},
        },
    )
    assert response.status_code == 200
    assert response.json()["text"] == '{"tip": "practice"}'
    assert ai.calls[0]["inputs"]["response_format"] == {"type": "json_object"}

    ai.script(text="not json at all")
    response = client.post(
        "/api/llm/chat/completions",
        json={
            "messages": [{"role": "user", "content": "json please"}],
            "response_format": {"type": "json_object"},
        },
    )
    assert response.status_code == 502
    assert "valid JSON" in response.json()["error"]


def test_json_mode_object_answer_from_workers_ai_becomes_json_text(client, ai):
    async def run(model, inputs, options=None):
        return {"response": {"tip": "listen"}, "usage": None}

    ai.run = run  # Workers AI's JSON mode can answer with an object, not a string
    response = client.post(
        "/api/llm/chat/completions",
        json={
            "messages": [{"role": "user", "content": "json"}],
            "response_format": {"type": "json_object"},
        },
    )
    assert response.status_code == 200
    assert response.json()["text"] == '{"tip": "listen"}'


def test_stream_sends_one_event_per_token_then_usage_then_done(client):
    with client.stream("POST", "/api/llm/generate", json={"prompt": "a b c", "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-llm-backend"] == "scripted"
        body = r.read().decode()
    events = sse_data(body)
    assert events[:-2] == [
        {"response": "echo: "},
        {"response": "a "},
        {"response": "b "},
        {"response": "c"},
    ]
    assert events[-2] == {
        "response": "",
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        "finish_reason": "stop",
    }
    assert events[-1] == "[DONE]"


def test_chat_stream_final_event_carries_tool_calls(client, ai):
    ai.script(text="", tool_calls=[{"name": "f", "arguments": {"a": 1}}])
    payload = {
        "model": "llama-4-scout-17b-16e-instruct",
        "messages": [{"role": "user", "content": "call f"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "stream": True,
    }
    response = client.post("/api/llm/chat/completions", json=payload)
    events = sse_data(response.text)
    assert events[-2]["tool_calls"] == [{"name": "f", "arguments": {"a": 1}}]
    assert events[-1] == "[DONE]"


def test_stream_failure_after_start_is_one_error_event_then_done(client, ai):
    ai.script(text="one two three", fail_after_pieces=2, stream_error=BackendError("upstream died"))
    response = client.post("/api/llm/generate", json={"prompt": "x", "stream": True})
    assert response.status_code == 200
    events = sse_data(response.text)
    assert events == [
        {"response": "one "},
        {"response": "two "},
        {"error": "upstream died"},
        "[DONE]",
    ]
    assert ai.streams_closed == 1


def test_stream_failure_before_first_token_gets_a_real_status(client, ai):
    ai.script(text="x", fail_after_pieces=0, stream_error=BackendTimeout("too slow"))
    response = client.post("/api/llm/generate", json={"prompt": "x", "stream": True})
    assert response.status_code == 504
    assert response.json() == {"error": "too slow"}


def test_upstream_error_event_mid_stream_is_reported(client, ai):
    ai.script(raw_events=[b'data: {"response": "hi"}\n\n', b'data: {"error": "model crashed"}\n\n'])
    events = sse_data(client.post("/api/llm/generate", json={"prompt": "x", "stream": True}).text)
    assert events == [{"response": "hi"}, {"error": "model crashed"}, "[DONE]"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BackendError("broken"), 502),
        (BackendBusy("busy", retry_after=2), 503),
        (BackendTimeout("slow"), 504),
        (ModelNotFound("no such model"), 400),
    ],
)
def test_backend_errors_map_to_statuses(client, ai, error, status):
    ai.script(raise_error=error)
    response = client.post("/api/llm/generate", json={"prompt": "x"})
    assert response.status_code == status
    assert response.json() == {"error": error.message}
    if status == 503:
        assert response.headers["retry-after"] == "2"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "prompt: Field required"),
        ({"prompt": ""}, "prompt: String should have at least 1 character"),
        ({"prompt": 5}, "prompt: Input should be a valid string"),
        ({"prompt": "x", "max_tokens": "5"}, "max_tokens: Input should be a valid integer"),
        (
            {"prompt": "x", "max_tokens": 0},
            "max_tokens: Input should be greater than or equal to 1",
        ),
        ({"prompt": "x", "temperature": 9}, "temperature: Input should be less than or equal to 5"),
        ({"prompt": "x", "top_k": 51}, "top_k: Input should be less than or equal to 50"),
        ({"prompt": "x", "stream": "yes"}, "stream: Input should be a valid boolean"),
        ({"prompt": "x", "model": "gpt-9"}, "The model 'gpt-9' does not exist"),
        ({"prompt": "x " * 300000}, "cannot fit the context window"),
    ],
)
def test_invalid_generate_input_is_a_400_naming_the_field(client, ai, payload, fragment):
    response = client.post("/api/llm/generate", json=payload)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]
    assert ai.calls == []


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role: Input should be"),
        ({"messages": [{"role": "user"}]}, "content is required for a 'user' message"),
        ({"messages": "hi"}, "messages: Input should be a valid list"),
        (
            {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}},
            "response_format.type: Input should be",
        ),
    ],
)
def test_invalid_chat_input_is_a_400_naming_the_field(client, payload, fragment):
    response = client.post("/api/llm/chat/completions", json=payload)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_malformed_json_and_non_object_bodies_are_400(client):
    response = client.post(
        "/api/llm/generate", content=b'{"prompt": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("Request body is not valid JSON")
    response = client.post("/api/llm/generate", json=["prompt"])
    assert response.status_code == 400
    assert response.json() == {"error": "The request body must be a JSON object"}


def test_unknown_routes_and_methods_answer_404_and_405_in_the_native_envelope(client):
    response = client.get("/api/llm/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "No such route: GET /api/llm/nothing-here"}
    response = client.get("/api/llm/generate")
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed: GET /api/llm/generate"}


def test_our_own_fault_is_a_500_without_a_traceback(client, ai):
    ai.script(raise_error=ZeroDivisionError("boom"))
    response = client.post("/api/llm/generate", json={"prompt": "x"})
    assert response.status_code == 500
    message = response.json()["error"]
    assert message.startswith("Internal error; quote request id req_")
    assert "ZeroDivision" not in message
    assert response.headers["x-request-id"] in message


def test_health_needs_no_model_call(client, ai):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "backend": "scripted"}
    assert ai.calls == []


def test_max_tokens_is_capped_to_the_room_left_in_the_context_window(client, ai):
    prompt = "word " * 4000  # about 5000 tokens by the estimate
    response = client.post(
        "/api/llm/generate",
        json={"prompt": prompt, "model": "llama-3.3-70b-instruct-fp8-fast", "max_tokens": 30000},
    )
    assert response.status_code == 200
    assert ai.calls[0]["inputs"]["max_tokens"] == 24000 - len(prompt) // 4


def test_too_many_messages_is_a_400(client):
    messages = [{"role": "user", "content": "x"}] * 501
    response = client.post("/api/llm/chat/completions", json={"messages": messages})
    assert response.status_code == 400
    assert "messages: List should have at most 500 items" in response.json()["error"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/llm/generate", {"prompt": "hi"}),
        ("/api/llm/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/api/v1/llm/chat", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/chat/completions", {"model": "llama-3.1-8b-instruct",
                                  "messages": [{"role": "user", "content": "hi"}]}),
    ],
)  # fmt: skip
def test_every_generation_answer_names_its_backend(client, path, body, stream):
    with client.stream("POST", path, json={**body, "stream": stream}) as response:
        response.read()
    assert response.status_code == 200, response.text
    assert response.headers["x-llm-backend"] == "scripted"
