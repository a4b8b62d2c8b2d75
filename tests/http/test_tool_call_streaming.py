"""Tool calls streamed as they are generated, and answers cut by max_tokens (issue 15,
items 1, 2 and 6), through the families with the scripted AI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llm_api.catalog import TABLE_CATALOG
from llm_api.errors import OPENAI
from llm_api.services.generation import Caller, GenerationRequest
from llm_api.services.openai import chunk_frames
from llm_api.sse import DONE_FRAME, encode_data
from tests.support.sse import sse_data, streamed_tool_calls

TOOL_MODEL = "llama-3.3-70b-instruct-fp8-fast"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ASK = [{"role": "user", "content": "weather in Paris?"}]


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """A ``chat.completion.chunk`` as Workers AI's Chat Completions shape streams it."""
    return encode_data({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def fragment(arguments: str, **first: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"index": 0, "function": {"arguments": arguments}}
    if first:
        call.update(id=first["id"], type="function")
        call["function"]["name"] = first["name"]
    return {"tool_calls": [call]}


PIECES = ['{"city', '": "Pa', 'ris"}']
TOOL_STREAM = [
    chunk(fragment("", id="call_up", name="get_weather")),
    *(chunk(fragment(piece)) for piece in PIECES),
    chunk({}, "tool_calls"),
    DONE_FRAME,
]


def openai_stream(client, **fields: Any) -> list[Any]:
    body = {"model": TOOL_MODEL, "messages": ASK, "tools": TOOLS, "stream": True, **fields}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return sse_data(response.text)


def test_streamed_tool_call_is_sent_name_first_then_argument_pieces(client, ai) -> None:
    ai.script(raw_events=TOOL_STREAM)
    events = openai_stream(client)
    deltas = [event["choices"][0]["delta"] for event in events[:-1]]
    assert deltas[0] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": "call_up",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
    }
    assert deltas[1:4] == [
        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} for piece in PIECES
    ]
    assert deltas[4:] == [{}]  # the finish chunk: the call is not repeated whole
    assert [event["choices"][0]["finish_reason"] for event in events[:-1]] == [None] * 4 + [
        "tool_calls"
    ]
    assert len({event["id"] for event in events[:-1]}) == 1


def test_streamed_tool_call_fragments_before_the_name_wait_for_it(client, ai) -> None:
    # some servers send the id, or a piece of the arguments, before the name
    ai.script(
        raw_events=[
            chunk({"tool_calls": [{"index": 3, "id": "c1", "function": {"arguments": "{"}}]}),
            chunk({"tool_calls": [{"index": 3, "function": {"name": "get_weather"}}]}),
            chunk({"tool_calls": [{"index": 3, "function": {"arguments": "}"}}]}, "tool_calls"),
            DONE_FRAME,
        ]
    )
    events = openai_stream(client)
    calls = [call for e in events[:-1] for call in e["choices"][0]["delta"].get("tool_calls", [])]
    assert calls == [
        {
            "index": 0,  # the call's position, whatever index the upstream used
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": "{"},
        },
        {"index": 0, "function": {"arguments": "}"}},
    ]


def test_whole_streamed_tool_calls_get_one_delta_each_with_an_id(client, ai) -> None:
    ai.script(text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Rome"}}])
    events = openai_stream(client)
    [call] = streamed_tool_calls(events)
    assert call["id"].startswith("call_") and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Rome"}
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert sum("tool_calls" in delta for delta in deltas) == 1  # not again at the end
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_native_stream_still_sends_its_calls_whole_at_the_end(client, ai) -> None:
    ai.script(raw_events=TOOL_STREAM)
    body = {"model": TOOL_MODEL, "messages": ASK, "tools": TOOLS, "stream": True}
    events = sse_data(client.post("/api/llm/chat/completions", json=body).text)
    assert events[:-2] == []
    assert events[-2]["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert events[-2]["finish_reason"] == "tool_calls"


class GatedAI:
    """Streams the call's first fragment, then waits for ``release`` before the rest."""

    engine = "gated"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def run(self, model: str, inputs: dict[str, Any], options: Any = None) -> Any:
        async def stream() -> Any:
            yield TOOL_STREAM[0]
            await self.release.wait()
            for frame in TOOL_STREAM[1:]:
                yield frame

        return stream()


def test_streamed_tool_call_first_chunk_arrives_before_generation_ends() -> None:
    async def scenario() -> tuple[bytes, list[bytes]]:
        ai = GatedAI()
        request = GenerationRequest(
            model=TABLE_CATALOG.resolve(TOOL_MODEL), messages=ASK, tools=TOOLS
        )
        # both while the upstream still waits: the response starts with the call's name
        opened = chunk_frames(Caller(ai=ai), request, include_usage=False, family=OPENAI)
        frames = await asyncio.wait_for(opened, 5)
        first = await asyncio.wait_for(anext(frames), 5)
        ai.release.set()
        return first, [frame async for frame in frames]

    first, rest = asyncio.run(scenario())
    assert json.loads(first[6:])["choices"][0]["delta"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": "",
    }
    assert rest[-1] == DONE_FRAME


CUT_STREAM = [
    chunk(fragment("", id="call_up", name="get_weather")),
    chunk(fragment('{"city": "Pa')),
    chunk({}, "length"),
    DONE_FRAME,
]


def test_forced_call_cut_by_max_tokens_streams_as_a_cut_call(client, ai) -> None:
    ai.script(raw_events=CUT_STREAM)
    events = openai_stream(client, tool_choice="required", max_tokens=8)
    assert streamed_tool_calls(events) == [
        {"id": "call_up", "name": "get_weather", "arguments": '{"city": "Pa'}
    ]
    assert all(not e["choices"][0]["delta"].get("content") for e in events[:-1])
    assert events[-2]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("family", ["openai", "native"])
def test_forced_call_cut_by_max_tokens_comes_back_under_tool_calls(client, ai, family) -> None:
    ai.script(
        text="",
        tool_calls=[{"name": "get_weather", "arguments": '{"city": "Pa'}],
        finish_reason="length",
    )
    body = {"model": TOOL_MODEL, "messages": ASK, "tools": TOOLS, "tool_choice": "required"}
    if family == "native":
        answer = client.post("/api/llm/chat/completions", json=body).json()
        assert answer["finish_reason"] == "length" and answer["text"] == ""
        assert answer["tool_calls"] == [{"name": "get_weather", "arguments": '{"city": "Pa'}]
        return
    answer = client.post("/v1/chat/completions", json=body).json()
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Pa'}


def test_broken_arguments_that_were_not_cut_are_still_refused(client, ai) -> None:
    ai.script(text="", tool_calls=[{"name": "get_weather", "arguments": '{"city": "Pa'}])
    body = {"model": TOOL_MODEL, "messages": ASK, "tools": TOOLS}
    assert client.post("/v1/chat/completions", json=body).status_code == 502


CUT_JSON = '{"tip": "prac'
FORMAT = {"type": "json_object"}


@pytest.mark.parametrize("family", ["openai", "native"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed-whole"])
def test_json_answer_cut_by_max_tokens_is_200_length_not_502(client, ai, family, stream) -> None:
    # streamed-whole: a backend that answers a JSON stream request in one piece (Workers AI)
    ai.script(text=CUT_JSON, finish_reason="length", whole_for_stream=stream)
    body = {"messages": ASK, "response_format": FORMAT, "max_tokens": 5, "stream": stream}
    path = "/v1/chat/completions" if family == "openai" else "/api/llm/chat/completions"
    response = client.post(path, json={"model": TOOL_MODEL, **body})
    assert response.status_code == 200, response.text
    if stream:
        events = sse_data(response.text)
        assert "error" not in response.text
        if family == "openai":
            assert events[0]["choices"][0]["delta"]["content"] == CUT_JSON
            assert events[-2]["choices"][0]["finish_reason"] == "length"
        else:
            assert events[0] == {"response": CUT_JSON}
            assert events[-2]["finish_reason"] == "length"
    elif family == "openai":
        choice = response.json()["choices"][0]
        assert (choice["message"]["content"], choice["finish_reason"]) == (CUT_JSON, "length")
    else:
        answer = response.json()
        assert (answer["text"], answer["finish_reason"]) == (CUT_JSON, "length")


def test_generate_answer_says_its_finish_reason(client, ai) -> None:
    ai.script(text="Once upon", finish_reason="length")
    answer = client.post("/api/llm/generate", json={"prompt": "story", "max_tokens": 2}).json()
    assert answer["finish_reason"] == "length"
