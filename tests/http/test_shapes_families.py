"""Both Workers AI I/O shapes through all three families (issue 14, items 4 and 5), from the
documented fixtures, whole and streamed: text, tool calls, reasoning never in ``content``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.shape_fixtures import stream_chunks, whole
from tests.support.sse import sse_data, streamed_tool_calls

GLM = "glm-4.7-flash"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
FAMILIES = ("native", "openai", "v1")


def post(client, family: str, *, stream: bool = False, **fields: Any):
    payload: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], **fields}
    if stream:
        payload["stream"] = True
    if family == "native":
        return client.post("/api/llm/chat/completions", json={"model": GLM, **payload})
    if family == "openai":
        return client.post("/v1/chat/completions", json={"model": GLM, **payload})
    payload.pop("tools", None)  # the v1 family has no tools
    return client.post("/api/v1/llm/chat", json={"model": GLM, **payload})


def streamed_text(family: str, events: list[Any]) -> tuple[str, str]:
    """(content, reasoning) of a streamed answer in ``family``'s frames."""
    assert events[-1] == "[DONE]"
    frames = [event for event in events[:-1] if "error" not in event]
    if family == "native":
        assert all(
            set(frame) <= {"response", "usage", "tool_calls", "finish_reason"} for frame in frames
        )
        return "".join(frame["response"] for frame in frames), ""
    deltas = [choice["delta"] for frame in frames for choice in frame["choices"]]
    content = "".join(delta.get("content") or "" for delta in deltas)
    return content, "".join(delta.get("reasoning_content") or "" for delta in deltas)


@pytest.mark.parametrize("family", FAMILIES)
def test_chat_completions_answer_is_read_and_reasoning_never_in_content(client, ai, family):
    ai.script(raw_result=whole("chat-whole-glm-text"))
    response = post(client, family)
    assert response.status_code == 200, response.text
    body = response.json()
    if family == "native":
        assert body["text"] == "Bonjour ! Comment vas-tu ?"
        assert "reasoning" not in json.dumps(body)
        assert body["usage"] == {"prompt_tokens": 25, "completion_tokens": 19, "total_tokens": 44}
        return
    message = body["choices"][0]["message"]
    assert message["content"] == "Bonjour ! Comment vas-tu ?"
    if family == "openai":
        assert message["reasoning_content"] == "A short French greeting is enough."
    else:
        assert "reasoning_content" not in message
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 9}


@pytest.mark.parametrize("family", ("native", "openai"))
@pytest.mark.parametrize(
    "fixture", ["chat-whole-glm-tools", "legacy-whole-tools-flat", "legacy-whole-tools-nested"]
)
def test_tool_calls_in_both_shapes(client, ai, family, fixture):
    ai.script(raw_result=whole(fixture))
    response = post(client, family, tools=TOOLS)
    assert response.status_code == 200, response.text
    body = response.json()
    if family == "native":
        assert body["tool_calls"][0]["name"] == "get_weather"
        assert body["tool_calls"][0]["arguments"] == {"city": "Paris"}
        return
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    if fixture == "chat-whole-glm-tools":
        assert call["id"] == "call_a1b2c3d4e"  # the model's own id is kept
        assert choice["message"]["content"] is None
        assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 384}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fixture", ["chat-stream-text", "legacy-stream"])
def test_streams_in_both_formats(client, ai, family, fixture):
    ai.script(raw_events=stream_chunks(fixture))
    response = post(client, family, stream=True)
    assert response.status_code == 200
    content, reasoning = streamed_text(family, sse_data(response.text))
    assert content == "Bonjour !"  # both fixtures say it
    if family == "openai" and fixture == "chat-stream-text":
        assert reasoning == "Okay, the user wants a greeting."
    else:
        assert reasoning == ""
    assert "the user" not in content


@pytest.mark.parametrize("family", ("native", "openai"))
@pytest.mark.parametrize("fixture", ["chat-stream-tools", "legacy-stream-tools"])
def test_streamed_tool_calls_in_both_formats(client, ai, family, fixture):
    ai.script(raw_events=stream_chunks(fixture))
    response = post(client, family, stream=True, tools=TOOLS)
    events = sse_data(response.text)
    city = "Paris" if fixture == "chat-stream-tools" else "London"
    if family == "native":
        final = events[-2]
        assert final["tool_calls"][0]["name"] == "get_weather"
        assert next(iter(final["tool_calls"][0]["arguments"].values())) == city
        return
    deltas = [c["delta"] for e in events[:-1] for c in e["choices"]]
    calls = streamed_tool_calls(events)
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) in ({"city": city}, {"location": city})
    finishes = [c["finish_reason"] for e in events[:-1] for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["tool_calls"]
    assert all(not delta.get("content") for delta in deltas)  # the thinking stays out


@pytest.mark.parametrize("family", ("openai", "v1"))
def test_thinking_that_used_max_tokens_is_length_not_an_empty_success(client, ai, family):
    ai.script(raw_result=whole("chat-whole-length-reasoning-only"))
    body = post(client, family, max_tokens=64).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == ""


def test_thinking_at_max_tokens_reported_as_stop_is_still_length(client, ai):
    answer = whole("chat-whole-length-reasoning-only")
    answer["choices"][0]["finish_reason"] = "stop"
    ai.script(raw_result=answer)
    body = post(client, "openai", max_tokens=64).json()
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stream_request_answered_with_json_becomes_a_stream(client, ai, family):
    ai.script(raw_result=whole("gptoss-stream-true-returns-json"), whole_for_stream=True)
    response = post(client, family, stream=True)
    content, reasoning = streamed_text(family, sse_data(response.text))
    assert content == "Bonjour !"
    assert reasoning == ("Greeting requested." if family == "openai" else "")


@pytest.mark.parametrize(
    "fixture", ["legacy-whole-jsonmode-object", "legacy-whole-jsonmode-string"]
)
def test_json_mode_answer_as_object_or_string(client, ai, fixture):
    ai.script(raw_result=whole(fixture))
    body = post(client, "native", response_format={"type": "json_object"}).json()
    assert json.loads(body["text"])["capital"] == "New Delhi"


@pytest.mark.parametrize("family", ("native", "openai"))
def test_a_streamed_json_request_answered_whole_is_sent_as_a_stream(client, ai, family):
    ai.script(raw_result=whole("legacy-whole-jsonmode-object"), whole_for_stream=True)
    response = post(client, family, stream=True, response_format={"type": "json_object"})
    content, _ = streamed_text(family, sse_data(response.text))
    assert json.loads(content)["name"] == "India"


@pytest.mark.parametrize(
    "fixture", ["responses-whole-gptoss", "responses-whole-gptoss-function-call"]
)
def test_a_responses_answer_is_read(client, ai, fixture):
    ai.script(raw_result=whole(fixture))
    body = post(client, "openai", tools=TOOLS).json()
    message = body["choices"][0]["message"]
    assert "reasoning" not in (message["content"] or "").lower()
    if fixture == "responses-whole-gptoss":
        assert message["content"] == "Bonjour ! Comment ça va ?"
        assert message["reasoning_content"].startswith("User asks")
        assert body["usage"]["prompt_tokens"] == 74
    else:
        assert message["tool_calls"][0]["id"] == "call_9f8e7d6c5"
        assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


def test_reasoning_effort_passes_through_to_the_inputs(client, ai):
    post(client, "openai", reasoning_effort="high")
    assert ai.calls[0]["inputs"]["reasoning_effort"] == "high"
    assert "chat_template_kwargs" not in ai.calls[0]["inputs"]


def test_json_mode_turns_thinking_off_where_the_model_allows(client, ai):
    post(client, "openai", response_format={"type": "json_object"})
    assert ai.calls[0]["inputs"]["chat_template_kwargs"] == {"enable_thinking": False}


def test_a_model_that_does_not_reason_gets_no_reasoning_inputs(client, ai):
    client.post(
        "/v1/chat/completions",
        json={
            "model": "llama-4-scout-17b-16e-instruct",
            "messages": [{"role": "user", "content": "hi"}],
            "reasoning_effort": "high",
        },
    )
    assert "reasoning_effort" not in ai.calls[0]["inputs"]
