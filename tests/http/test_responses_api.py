"""The Responses API (`POST /v1/responses`) over ASGI: the request mapping onto the engine,
the response object and the event stream, each answer checked against the official SDK's
types (``tests.support.responses_sdk``)."""

from __future__ import annotations

import asyncio

import pytest

from llm_api.errors import BackendBusy, BackendError
from llm_api.keys import new_key
from llm_api.sse import DONE_FRAME, encode_data
from tests.support.responses_sdk import sdk_events, sdk_response

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
CALL = {"name": "get_weather", "arguments": {"city": "Lyon"}}


def create(client, **fields):
    payload = {"model": "llama-3.3-70b-instruct-fp8-fast", **fields}
    payload.setdefault("input", "hi there")
    return client.post("/v1/responses", json=payload)


def test_create_has_the_sdk_response_shape(client, ai):
    response = create(client, instructions="be brief", metadata={"app": "tests"})
    assert response.status_code == 200
    body = response.json()
    parsed = sdk_response(body)
    assert parsed.output_text == "echo: hi there"
    assert body["id"].startswith("resp_") and body["object"] == "response"
    assert body["status"] == "completed" and body["error"] is None
    assert body["model"] == MODEL
    [message] = body["output"]
    assert message["type"] == "message" and message["id"].startswith("msg_")
    assert message["content"] == [
        {"type": "output_text", "text": "echo: hi there", "annotations": []}
    ]
    assert body["usage"] == {
        "input_tokens": 2,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 5,
    }
    assert body["instructions"] == "be brief" and body["metadata"] == {"app": "tests"}
    assert body["store"] is True and body["tools"] == [] and body["tool_choice"] == "auto"
    assert ai.calls[0]["inputs"] == {
        "max_tokens": 1024,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi there"},
        ],
    }


def test_input_items_map_to_the_engines_messages(client, ai):
    items = [
        {"role": "developer", "content": "be kind"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_x",
            "status": "completed",
            "content": [{"type": "output_text", "text": "b", "annotations": []}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Lyon"}', "id": "fc_x", "status": "completed"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "reasoning", "id": "rs_x", "summary": []},
    ]  # fmt: skip
    assert create(client, input=items, tools=[WEATHER]).status_code == 200
    assert ai.calls[0]["inputs"]["messages"] == [
        {"role": "system", "content": "be kind"},
        {"role": "user", "content": "a"},
        {
            "role": "assistant",
            "content": "b",
            "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Lyon"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny", "name": "get_weather"},
    ]


def test_sampling_tools_and_format_map_to_the_engine(client, ai):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    ai.script(text='{"a": "x"}')
    text = {"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}}
    response = create(
        client,
        temperature=0.5,
        top_p=0.9,
        max_output_tokens=40,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        text=text,
    )
    assert response.status_code == 200
    body = response.json()
    sdk_response(body)
    inputs = ai.calls[0]["inputs"]
    assert inputs["max_tokens"] == 40 and inputs["temperature"] == 0.5 and inputs["top_p"] == 0.9
    assert inputs["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    assert inputs["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert inputs["response_format"] == {"type": "json_schema", "json_schema": schema}
    assert body["text"]["format"]["schema"] == schema and body["tools"] == [WEATHER]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["max_output_tokens"] == 40 and body["temperature"] == 0.5


def test_tool_choice_none_offers_no_tools(client, ai):
    assert create(client, tools=[WEATHER], tool_choice="none").status_code == 200
    assert "tools" not in ai.calls[0]["inputs"]


def test_tool_call_is_a_function_call_item(client, ai):
    ai.script(text="", tool_calls=[CALL])
    body = create(client, tools=[WEATHER]).json()
    sdk_response(body)
    [call] = body["output"]  # no text: no message
    assert call["type"] == "function_call" and call["id"].startswith("fc_")
    assert call["call_id"].startswith("call_") and call["name"] == "get_weather"
    assert call["arguments"] == '{"city": "Lyon"}' and body["status"] == "completed"


def test_parallel_tool_calls_false_answers_one_call(client, ai):
    second = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    ai.script(text="", tool_calls=[CALL, second])
    ai.script(text="", tool_calls=[CALL, second])
    assert len(create(client, tools=[WEATHER]).json()["output"]) == 2
    body = create(client, tools=[WEATHER], parallel_tool_calls=False).json()
    assert [item["arguments"] for item in body["output"]] == ['{"city": "Lyon"}']
    assert body["parallel_tool_calls"] is False


def test_max_output_tokens_cut_is_incomplete(client, ai):
    ai.script(text="one two three", usage={"prompt_tokens": 1, "completion_tokens": 3})
    body = create(client, max_output_tokens=3).json()
    sdk_response(body)
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"


def test_reasoning_is_a_reasoning_item_and_effort_passes_on(client, ai):
    ai.script(raw_result={"response": "42", "reasoning": "six times seven"})
    body = create(client, model="gpt-oss-120b", reasoning={"effort": "high"}).json()
    sdk_response(body)
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][0]["summary"] == [{"type": "summary_text", "text": "six times seven"}]
    assert ai.calls[0]["inputs"]["reasoning_effort"] == "high"
    assert body["reasoning"] == {"effort": "high"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"bogus": 1}, "bogus"),
        ({"truncation": "auto"}, "truncation"),
        ({"include": ["message.output_text.logprobs"]}, "include[0]"),
        ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "input[0]"),
        ({"input": [{"type": "computer_call_output"}]}, "input[0]"),
        ({"tool_choice": {"type": "function", "name": "nope"}, "tools": [WEATHER]}, "tool_choice"),
        ({"tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"stream_options": {"include_obfuscation": False}}, "stream_options"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]},
         "input[0].arguments"),
        ({"input": []}, "input"),
    ],
)  # fmt: skip
def test_unsupported_fields_are_400_naming_them(client, ai, fields, param):
    response = create(client, **fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is not None and error["param"].startswith(param)
    assert ai.calls == []


def test_harmless_fields_sdks_send_are_accepted(client):
    harmless = {"include": [], "truncation": "disabled", "background": False, "user": "u1",
                "service_tier": "auto", "top_logprobs": 0, "safety_identifier": "s"}  # fmt: skip
    assert create(client, **harmless).status_code == 200


def test_stream_sends_openais_event_sequence(client, ai):
    ai.script(text="one two three")
    response = create(client, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sdk_events(response.text)
    kinds = [event["type"] for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [event for event in events if event["type"] == "response.output_text.delta"]
    assert "".join(event["delta"] for event in deltas) == "one two three"
    item = events[2]["item"]["id"]
    assert {(e["item_id"], e["output_index"], e["content_index"]) for e in deltas} == {(item, 0, 0)}
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["total_tokens"] > 0
    assert events[0]["response"]["status"] == "in_progress"
    assert {event.get("response", final)["id"] for event in events} == {final["id"]}
    assert "[DONE]" not in response.text


def test_stream_tool_call_events(client, ai):
    ai.script(text="", tool_calls=[CALL])
    events = sdk_events(create(client, stream=True, tools=[WEATHER]).text)
    kinds = [event["type"] for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[2]["item"]["arguments"] == "" and events[2]["item"]["type"] == "function_call"
    assert events[3]["delta"] == events[4]["arguments"] == '{"city": "Lyon"}'
    assert events[-1]["response"]["output"] == [events[5]["item"]]


def test_stream_cut_by_max_output_tokens_is_response_incomplete(client, ai):
    ai.script(text="one two three", usage={"prompt_tokens": 1, "completion_tokens": 3})
    events = sdk_events(create(client, stream=True, max_output_tokens=3).text)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_stream_of_thinking_sends_a_reasoning_item_first(client, ai):
    ai.script(raw_result={"response": "42", "reasoning": "hmm"}, whole_for_stream=True)
    events = sdk_events(create(client, model="gpt-oss-120b", stream=True).text)
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert "response.reasoning_summary_text.delta" in [event["type"] for event in events]


def test_stream_failure_after_the_start_is_response_failed(client, ai):
    ai.script(text="one two three four", fail_after_pieces=2, stream_error=BackendError("boom"))
    response = create(client, stream=True)
    assert response.status_code == 200
    events = sdk_events(response.text)
    assert [event["type"] for event in events[-2:]] == ["error", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert client.get(f"/v1/responses/{failed['id']}").status_code == 404  # not kept


def test_stream_failure_before_the_start_has_a_real_status(client, ai):
    ai.script(raise_error=BackendBusy("busy"))
    response = create(client, stream=True)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "server_error"


def test_unknown_model_is_404_in_openais_envelope(client):
    response = create(client, model="no-such-model")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_a_response_counts_once_against_the_rate_limit(platform, client, ai):
    key, record = new_key("limited", rpm=2)
    asyncio.run(platform.keys.put(record))
    headers = {"authorization": f"Bearer {key}"}
    ai.script(text="", tool_calls=[CALL])
    first = client.post(
        "/v1/responses",
        json={"model": MODEL, "input": "x", "tools": [WEATHER], "stream": True},
        headers=headers,
    )
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    final = sdk_events(first.text)[-1]["response"]
    follow_up = {"model": MODEL, "previous_response_id": final["id"], "input": "again"}
    second = client.post("/v1/responses", json=follow_up, headers=headers)
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert client.post("/v1/responses", json=follow_up, headers=headers).status_code == 429
    assert len(ai.calls) == 2


def test_stream_of_text_and_two_calls_numbers_the_items_in_order(client, ai):
    second = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    ai.script(text="Checking both.", tool_calls=[CALL, second])
    events = sdk_events(create(client, stream=True, tools=[WEATHER]).text)
    done = [event for event in events if event["type"] == "response.output_item.done"]
    assert [(event["output_index"], event["item"]["type"]) for event in done] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert [delta["delta"] for delta in deltas] == ['{"city": "Lyon"}', '{"city": "Oslo"}']
    assert events[-1]["response"]["output"] == [event["item"] for event in done]
    assert len({item["item"]["id"] for item in done}) == 3


def test_stream_sends_a_function_call_as_it_is_generated(client, ai):
    """Argument pieces reach the client as the backend sends them (one delta each), not as
    one delta at the end; the done event and the stored item join them."""

    def chunk(call: dict, finish: str | None = None) -> bytes:
        delta = {"tool_calls": [{"index": 0, **call}]} if call else {}
        return encode_data({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    pieces = ['{"city', '": "Ly', 'on"}']
    ai.script(
        raw_events=[
            chunk({"id": "call_up", "type": "function", "function": {"name": "get_weather"}}),
            *(chunk({"function": {"arguments": piece}}) for piece in pieces),
            chunk({}, "tool_calls"),
            DONE_FRAME,
        ]
    )
    events = sdk_events(create(client, stream=True, tools=[WEATHER]).text)
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == pieces
    [done] = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert done["arguments"] == '{"city": "Lyon"}' and done["name"] == "get_weather"
    [item] = events[-1]["response"]["output"]
    assert item["call_id"] == "call_up" and item["arguments"] == '{"city": "Lyon"}'
