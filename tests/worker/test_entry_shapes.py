"""Both I/O shapes through src/entry.py and the fake env.AI, in all three families (issue 14,
items 4 and 5): Chat Completions answers and chunks from the documented fixtures, tool calls,
gpt-oss's JSON body for a stream request; reasoning only in /v1's ``reasoning_content``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.shape_fixtures import stream_chunks, whole
from tests.support.sse import sse_data, streamed_tool_calls
from tests.support.workers_fake import Runtime, installed
from tests.support.workers_fake.bindings import FakeAI, js_request
from tests.worker.test_entry import BASE, Worker, bearer, serve

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with installed() as runtime:
        yield runtime


@pytest.fixture
def entry(runtime: Runtime) -> ModuleType:
    return runtime.load_entry()


PATHS = {
    "native": "/api/llm/chat/completions",
    "openai": "/v1/chat/completions",
    "v1": "/api/v1/llm/chat",
}


def call(runtime, entry, answer: Any, family: str, model: str, **fields: Any) -> tuple[FakeAI, Any]:
    ai = FakeAI(answer)
    worker = Worker(entry, ai)
    key, _ = worker.add_key()
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **fields}
    if family == "v1":
        body.pop("tools", None)
    request = js_request("POST", f"{BASE}{PATHS[family]}", json_body=body, headers=bearer(key))
    response, raw = serve(runtime, entry, worker.env, request)
    assert response.status == 200, raw
    return ai, sse_data(raw.decode()) if fields.get("stream") else json.loads(raw)


def contents(family: str, events: list[Any]) -> tuple[str, str]:
    if family == "native":
        return "".join(e["response"] for e in events[:-1]), ""
    deltas = [c["delta"] for e in events[:-1] for c in e["choices"]]
    text = "".join(d.get("content") or "" for d in deltas)
    return text, "".join(d.get("reasoning_content") or "" for d in deltas)


@pytest.mark.parametrize("family", ["native", "openai", "v1"])
def test_a_chat_completions_stream_on_the_worker(runtime, entry, family):
    ai, events = call(
        runtime, entry, stream_chunks("chat-stream-text"), family, "glm-4.7-flash", stream=True
    )
    assert ai.inputs()["stream_options"] == {"include_usage": True}
    text, thinking = contents(family, events)
    assert text == "Bonjour !"
    assert thinking == ("Okay, the user wants a greeting." if family == "openai" else "")


@pytest.mark.parametrize("family", ["native", "openai"])
@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_tool_calls_on_the_worker(runtime, entry, family, stream):
    answer = stream_chunks("chat-stream-tools") if stream else whole("chat-whole-glm-tools")
    ai, out = call(runtime, entry, answer, family, "glm-4.7-flash", stream=stream, tools=TOOLS)
    assert ai.inputs()["tools"] == TOOLS
    if family == "native":
        final = out[-2] if stream else out
        assert final["tool_calls"][0]["arguments"] == {"city": "Paris"}
        return
    if stream:  # the call as it streamed: deltas joined by index
        calls = streamed_tool_calls(out)
    else:
        calls = [call["function"] for call in out["choices"][0]["message"]["tool_calls"]]
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize("as_object", [False, True])  # facts-14 §0.2: either may come
@pytest.mark.parametrize("family", ["native", "openai", "v1"])
def test_gpt_oss_json_body_for_a_stream_is_sent_as_a_stream_on_the_worker(
    runtime, entry, family, as_object
):
    result = whole("gptoss-stream-true-returns-json")
    body = json.dumps(result).encode()
    answer = result if as_object else [body[:10], body[10:]]
    _, events = call(runtime, entry, answer, family, "gpt-oss-120b", stream=True)
    text, thinking = contents(family, events)
    assert text == "Bonjour !"
    assert thinking == ("Greeting requested." if family == "openai" else "")


@pytest.mark.parametrize("family", ["native", "openai"])
def test_a_legacy_stream_with_tool_fragments_on_the_worker(runtime, entry, family):
    _, events = call(
        runtime,
        entry,
        stream_chunks("legacy-stream-tools"),
        family,
        "llama-4-scout-17b-16e-instruct",
        stream=True,
        tools=TOOLS,
    )
    if family == "native":
        assert events[-2]["tool_calls"][0]["arguments"] == {"location": "London"}
    else:
        [joined] = streamed_tool_calls(events)
        assert json.loads(joined["arguments"]) == {"location": "London"}
