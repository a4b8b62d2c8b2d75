"""Whatever JSON an upstream sends, interpreting it raises nothing but a 502 (issue 12).

Findings 9 and 10: upstream results and stream events used to be read with bare
``.get``/``int()``/iteration, so ``{"choices": [{"delta": "x"}]}``, ``tool_calls: 5``,
usage ``"lots"`` or ``Infinity`` escaped as 500s (AttributeError, TypeError, ValueError,
OverflowError). Hypothesis feeds arbitrary JSON values, and near misses of the real
shapes, through every function that interprets a payload — the REST backends', the
Worker's ``env.AI`` path, the stream events, the generation service and the encoders
after it — and checks that only a ``BackendError`` (502) ever escapes, and that what
comes back has the binding's types.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_api.binding import events
from llm_api.binding.events import StreamAssembler, parse_event
from llm_api.catalog import resolve_model
from llm_api.errors import ApiError, BackendError
from llm_api.platform.remote import openai as remote_openai
from llm_api.platform.remote import workers_ai as remote_workers_ai
from llm_api.services.generation import (
    Caller,
    Completion,
    GenerationRequest,
    StreamEnd,
    TextDelta,
    complete,
    open_stream,
)
from llm_api.services.openai import ChunkEncoder, completion_body
from llm_api.sse import encode_data

PROFILE = settings(max_examples=300, deadline=None, derandomize=True, database=None)
MODEL = resolve_model("llama-3.2-3b-instruct")

#: the words the interpreters look for, so that generated objects hit them often
KEYS = [
    "response",
    "usage",
    "tool_calls",
    "choices",
    "delta",
    "message",
    "content",
    "function",
    "name",
    "arguments",
    "index",
    "id",
    "finish_reason",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "result",
    "success",
]
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(st.characters(codec=None) | SURROGATES, max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # inf and nan included: Python's json reads and writes them
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
COUNT = st.integers(-5, 10) | st.sampled_from([1e30, -391.0, 2**64, 12.0, 0.5, "lots"]) | JSON


def some(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects holding any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


USAGE = JSON | some(prompt_tokens=COUNT, completion_tokens=COUNT, total_tokens=COUNT)
FUNCTION = JSON | some(name=JSON | TEXT, arguments=JSON | TEXT)
TOOL_CALL = JSON | some(
    index=JSON, id=JSON, type=JSON, function=FUNCTION, name=TEXT, arguments=JSON
)
TOOL_CALLS = JSON | st.lists(TOOL_CALL, max_size=2)
MESSAGE = JSON | some(content=JSON | TEXT, tool_calls=TOOL_CALLS, role=JSON)
CHOICE = JSON | some(delta=MESSAGE, message=MESSAGE, finish_reason=JSON, index=JSON)
#: results and events shaped almost like the real ones, wrong anywhere
NEAR_MISS = (
    some(response=JSON | TEXT, usage=USAGE, tool_calls=TOOL_CALLS, finish_reason=JSON, error=JSON)
    | some(choices=JSON | st.lists(CHOICE, max_size=2), usage=USAGE, error=JSON)
    | some(result=JSON, success=JSON, errors=JSON)
)
PAYLOADS = NEAR_MISS | JSON


def request() -> GenerationRequest:
    return GenerationRequest(model=MODEL, messages=[{"role": "user", "content": "hello there"}])


class StaticAI:
    """A binding that answers with exactly ``answer`` (a stream: these frames)."""

    engine = "static"

    def __init__(self, answer: Any = None, frames: list[bytes] | None = None) -> None:
        self.answer, self.frames = answer, frames

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> Any:
        if inputs.get("stream") and self.frames is not None:
            return self._stream()
        return self.answer

    async def _stream(self) -> AsyncIterator[bytes]:
        for frame in self.frames or []:
            yield frame


def check_502(error: ApiError) -> None:
    assert isinstance(error, BackendError), repr(error)
    assert error.status == 502, repr(error)
    assert isinstance(error.message, str) and error.message


def check_binding_result(result: Any) -> None:
    """The binding's shape; its tool calls, read by the one rule, are calls or a 502."""
    assert isinstance(result, dict)
    assert isinstance(result["response"], str)
    usage = result.get("usage")
    if usage is not None:
        assert usage and all(type(count) is int and count >= 0 for count in usage.values())
        # the details (kept flat): each a part of the count it details
        assert usage.get("cached_tokens", 0) <= usage.get("prompt_tokens", 0)
        assert usage.get("reasoning_tokens", 0) <= usage.get("completion_tokens", 0)
    assert isinstance(result.get("tool_calls", []), list)
    for raw in result.get("tool_calls", []):
        try:
            call = events.tool_call(raw)
        except ApiError as error:
            check_502(error)
            continue
        assert isinstance(call["name"], str) and call["name"]
        assert isinstance(call["arguments"], dict)
    assert isinstance(result.get("finish_reason", ""), str)


def read_whole(payload: Any, service: str = "Workers AI") -> list[Any]:
    """A result as the generation service reads it: the result, then each tool call."""
    result = events.run_result(payload, service=service)
    return [events.tool_call(call) for call in result.get("tool_calls", [])]


def sendable(value: Any) -> None:
    """What the app would put on the wire: JSON, valid UTF-8."""
    json.dumps(value, ensure_ascii=False).encode()


@PROFILE
@given(PAYLOADS)
def test_any_upstream_result_is_a_binding_result_or_a_502(payload: Any) -> None:
    for service in (remote_workers_ai.SERVICE, remote_openai.SERVICE):
        try:
            check_binding_result(events.run_result(payload, service=service))
        except ApiError as error:
            check_502(error)


@PROFILE
@given(PAYLOADS | TEXT)
def test_any_stream_event_is_an_event_or_an_error_event(payload: Any) -> None:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    event = parse_event(data)
    if event is None:
        return
    assert isinstance(event.text, str)
    assert event.error is None or (isinstance(event.error, str) and event.error)
    assert event.finish_reason is None or isinstance(event.finish_reason, str)
    if event.usage is not None:
        assert all(type(count) is int and count >= 0 for count in event.usage.values())
    assert isinstance(event.tool_calls, list)  # whole calls, read by the service's rule
    for fragment in event.fragments:
        assert isinstance(fragment["name"], str) and isinstance(fragment["id"], str)
        assert isinstance(fragment["arguments"], str)
        assert type(fragment["index"]) is int


@PROFILE
@given(st.lists(PAYLOADS, max_size=4))
def test_the_openai_backend_reads_any_chunk_stream_or_fails_with_a_502(payloads: list[Any]) -> None:
    assembler = StreamAssembler(remote_openai.SERVICE)
    try:
        for payload in payloads:
            event = parse_event(json.dumps(payload))
            if event is not None:
                assembler.feed(event)
        final = assembler.result()
    except ApiError as error:
        check_502(error)
        return
    check_binding_result(final)
    sendable(final)


@PROFILE
@given(PAYLOADS)
def test_the_generation_service_answers_any_result_or_fails_with_a_502(payload: Any) -> None:
    try:
        completion = asyncio.run(complete(Caller(StaticAI(payload)), request()))
    except ApiError as error:
        check_502(error)
        return
    assert isinstance(completion, Completion)
    assert all(type(count) is int and count >= 0 for count in completion.usage.values())
    assert completion.usage["prompt_tokens"] > 0
    sendable(completion_body(completion, MODEL.id))  # the /v1 body
    sendable({"text": completion.text, "tool_calls": completion.tool_calls})  # the native one


async def read_stream(frames: list[bytes]) -> list[Any]:
    items = await open_stream(Caller(StaticAI(frames=frames)), request())
    encoder = ChunkEncoder(MODEL.id, include_usage=True, family=None)  # type: ignore[arg-type]
    out = []
    try:
        async for item in items:
            encoder.encode(item).decode()  # the /v1 frames are valid UTF-8
            out.append(item)
    finally:
        await items.aclose()  # type: ignore[attr-defined]
    return out


@PROFILE
@given(
    st.lists(PAYLOADS.map(encode_data) | st.binary(max_size=20), max_size=4),
    st.booleans(),
)
def test_the_generation_service_streams_any_events_or_fails_with_a_502(
    frames: list[bytes], done: bool
) -> None:
    try:
        items = asyncio.run(read_stream([*frames, b"data: [DONE]\n\n"] if done else frames))
    except ApiError as error:
        check_502(error)
        return
    *deltas, end = items
    assert all(isinstance(item, TextDelta) for item in deltas)
    assert isinstance(end, StreamEnd)
    assert all(type(count) is int and count >= 0 for count in end.usage.values())


# --- the Worker host: env.AI's results go through the same reading --------------------


@pytest.fixture
def workers() -> Any:
    import importlib

    from tests.support.workers_fake import installed

    with installed():
        yield importlib.import_module("llm_api.platform.workers.provider")


@settings(PROFILE, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PAYLOADS.filter(lambda value: isinstance(value, dict)))
def test_any_env_ai_result_is_a_binding_result_or_a_502(workers: Any, payload: Any) -> None:
    from tests.support.workers_fake.bindings import FakeAI

    binding = workers.WorkersAIBinding(FakeAI(payload))
    try:
        result = asyncio.run(binding.run("@cf/meta/llama-3.2-3b-instruct", {"prompt": "hi"}))
    except ApiError as error:
        check_502(error)
        return
    check_binding_result(result)


def test_an_env_ai_stream_chunk_that_is_not_bytes_is_a_502(workers: Any) -> None:
    from tests.support.workers_fake.bindings import FakeAI
    from tests.support.workers_fake.js import ReadableStream

    async def read() -> list[bytes]:
        binding = workers.WorkersAIBinding(FakeAI(ReadableStream([b"data: {}\n\n", 12345])))
        stream = await binding.run("@cf/meta/llama-3.2-3b-instruct", {"prompt": "hi"})
        return [chunk async for chunk in stream]

    with pytest.raises(BackendError, match="not bytes"):
        asyncio.run(read())


# --- finding 10's examples, one by one -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [{"message": "str"}]},
        {"choices": "all of them"},
        {"choices": [{"message": {"content": "x", "tool_calls": 5}}]},
        {"choices": [{"message": {"content": "x", "tool_calls": [{"function": {"name": 7}}]}}]},
        {"message": "str"},
    ],
)
def test_malformed_completion_bodies_are_502_not_500(body: dict[str, Any]) -> None:
    with pytest.raises(BackendError) as raised:
        read_whole(body, remote_openai.SERVICE)
    check_502(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        {"response": "x", "tool_calls": 5},
        {"response": "x", "tool_calls": {"name": "f"}},
        {"message": "str"},
        ["not", "an", "object"],
    ],
)
def test_malformed_workers_ai_results_are_502_not_500(body: Any) -> None:
    with pytest.raises(BackendError) as raised:
        read_whole(body)
    check_502(raised.value)


@pytest.mark.parametrize("count", [float("inf"), "lots", -391, 1e30, True, [1], 0.5])
def test_usage_that_is_not_a_count_is_dropped_not_a_500(count: Any) -> None:
    result = events.run_result(
        {
            "choices": [{"message": {"content": "hi"}}],
            "usage": {"prompt_tokens": count, "completion_tokens": count},
        },
        service=remote_openai.SERVICE,
    )
    assert result == {"response": "hi"}  # no usage: the service estimates it


@pytest.mark.parametrize(
    "data",
    [
        '{"choices":[{"delta":"x"}]}',
        '{"choices":[{"delta":{"tool_calls":5}}]}',
        '{"choices":[{"delta":{"content":7}}]}',
        '{"choices":[{"delta":{"tool_calls":[{"index":"first"}]}}]}',
        '{"choices":"x"}',
        '{"response":"x","tool_calls":3}',
        "[[[[" * 50_000,  # nested beyond the decoder's recursion limit
    ],
)
def test_malformed_stream_events_are_error_events_not_500(data: str) -> None:
    event = parse_event(data)
    assert event is not None and event.error
    with pytest.raises(BackendError):
        StreamAssembler(remote_openai.SERVICE).feed(event)


def test_usage_infinity_in_a_stream_event_is_dropped_not_a_500() -> None:
    event = parse_event('{"response":"a","usage":{"prompt_tokens":Infinity}}')
    assert event is not None and event.error is None
    assert (event.text, event.usage) == ("a", None)
