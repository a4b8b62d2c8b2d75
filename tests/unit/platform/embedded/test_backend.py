"""The embedded llama.cpp backend, against the real SmolLM2-135M-Instruct model.

Each test drives ``EmbeddedBackend.run`` the way the services do and checks what a
client would see: the result shape, the SSE framing and timing, grammars, tool calls,
and that cancelled work really stops. One backend (one model load) serves the module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from llm_api.errors import BackendError, ContextOverflow, InvalidRequest
from llm_api.platform.embedded import limits
from llm_api.platform.embedded.backend import PREFILL_CHUNK_TOKENS, EmbeddedBackend
from llm_api.platform.embedded.grammar import response_format_gbnf
from llm_api.platform.embedded.grammar_check import GRAMMAR_CACHE_ENTRIES
from llm_api.platform.embedded.loading import llama_build
from llm_api.sse import DONE_FRAME

pytestmark = pytest.mark.llama  # loads llama.cpp: `make test` runs it, `make test-fast` skips it

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python ([local])")

MODEL = "@cf/meta/llama-3.2-3b-instruct"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 40}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Get the current time in a timezone.",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string", "maxLength": 40}},
        "required": ["timezone"],
    },
}

#: schemas that made llama.cpp's grammar compiler segfault the server (issue 12)
CRASHING_SCHEMA = {"type": "array", "items": {"type": "string"}, "maxItems": 20000}
CRASHING_FORMAT = {"type": "json_schema", "json_schema": {"name": "x", "schema": CRASHING_SCHEMA}}
CRASHING_TOOL = {
    "name": "tag",
    "parameters": {"type": "object", "properties": {"tags": CRASHING_SCHEMA}},
}


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    # One thread: llama.cpp's threads spin-wait at each barrier, so with two of them on a
    # 2-core machine decoding slows 10-100x whenever another process wants a core.
    backend = EmbeddedBackend(n_threads=1)
    asyncio.run(backend.load())
    yield backend
    asyncio.run(backend.aclose())


def ask(text: str, **inputs: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "temperature": 0, **inputs}


async def read_events(stream: AsyncIterator[bytes]) -> tuple[list[Any], list[float], bytes]:
    """Every event's payload and arrival time (from the start), and the last raw frame."""
    started = time.perf_counter()
    events, times, frame = [], [], b""
    async for frame in stream:
        assert frame.startswith(b"data: ") and frame.endswith(b"\n\n"), frame
        payload = frame[6:-2].decode()
        events.append(payload if payload == "[DONE]" else json.loads(payload))
        times.append(time.perf_counter() - started)
    return events, times, frame


def streamed(backend: EmbeddedBackend, inputs: dict[str, Any]) -> tuple[list, list, bytes]:
    async def go() -> tuple[list, list, bytes]:
        return await read_events(await backend.run(MODEL, {**inputs, "stream": True}))

    return asyncio.run(go())


def completed(backend: EmbeddedBackend, inputs: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(backend.run(MODEL, inputs))


def test_complete_returns_text_usage_and_finish_reason(backend: EmbeddedBackend) -> None:
    result = completed(backend, ask("Name three colours.", max_tokens=24))

    assert backend.engine == "embedded:SmolLM2-135M-Instruct-Q4_1"
    assert set(result) == {"response", "usage", "finish_reason"}
    assert isinstance(result["response"], str) and result["response"].strip()
    usage = result["usage"]
    assert usage["prompt_tokens"] > 5
    assert 0 < usage["completion_tokens"] <= 24
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert result["finish_reason"] == ("length" if usage["completion_tokens"] == 24 else "stop")


def test_max_tokens_cuts_with_finish_reason_length(backend: EmbeddedBackend) -> None:
    result = completed(backend, {"prompt": "Write a story about a cat.", "max_tokens": 3})

    assert result["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 3


def test_stream_sends_each_token_as_it_is_generated(backend: EmbeddedBackend) -> None:
    events, times, last = streamed(backend, ask("Write a poem about the sea.", max_tokens=48))

    assert last == DONE_FRAME and events[-1] == "[DONE]"
    pieces, final = events[:-2], events[-2]
    assert len(pieces) >= 10
    assert all(set(event) == {"response"} and event["response"] for event in pieces)
    assert final["response"] == "" and final["finish_reason"] == "length"
    assert final["usage"]["completion_tokens"] == 48
    # Each token is sent as it is sampled, not held back: the pieces arrive spread over
    # the generation (1 ms a token at the very least, ~20 ms here), where a buffered
    # stream would hand them over within microseconds of each other. (Comparing with the
    # time to the first token instead was flaky: prompt evaluation alone varies 2x here.)
    span = times[len(pieces) - 1] - times[0]
    assert span >= 0.001 * (len(pieces) - 1), times


def test_stream_text_equals_complete_text_at_temperature_zero(backend: EmbeddedBackend) -> None:
    inputs = ask("What is the capital of France?", max_tokens=32)
    events, _, _ = streamed(backend, inputs)
    result = completed(backend, inputs)

    assert "".join(event["response"] for event in events[:-1]) == result["response"]
    assert events[-2]["usage"] == result["usage"]
    assert events[-2]["finish_reason"] == result["finish_reason"]


def test_stop_sequence_ends_the_answer_before_it(backend: EmbeddedBackend) -> None:
    full = completed(backend, ask("Count from 1 to 10, separated by commas.", max_tokens=40))
    assert "4" in full["response"]
    cut = completed(
        backend, ask("Count from 1 to 10, separated by commas.", max_tokens=40, stop=["4"])
    )

    assert cut["response"] == full["response"][: full["response"].index("4")]
    assert cut["finish_reason"] == "stop"


def test_json_object_mode_answers_json(backend: EmbeddedBackend) -> None:
    inputs = ask(
        "Describe a cat as a JSON object with the keys name and colour.",
        max_tokens=96,
        response_format={"type": "json_object"},
    )
    result = completed(backend, inputs)

    assert result["finish_reason"] == "stop", result
    assert isinstance(json.loads(result["response"]), dict)


def test_json_schema_mode_answers_valid_json(backend: EmbeddedBackend) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 30},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
        },
        "required": ["name", "age"],
    }
    inputs = ask(
        "Invent a person. Answer in JSON with name and age.",
        max_tokens=64,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    result = completed(backend, inputs)

    person = json.loads(result["response"])
    assert set(person) == {"name", "age"}
    assert isinstance(person["name"], str) and len(person["name"]) <= 30
    assert isinstance(person["age"], int) and 0 <= person["age"] <= 150
    # The schema may also be given directly as json_schema.
    direct = {"type": "json_schema", "json_schema": schema}
    assert response_format_gbnf(direct) == response_format_gbnf(inputs["response_format"])


@pytest.mark.parametrize(
    ("tool_choice", "names"),
    [
        ("required", {"get_weather", "get_time"}),
        ({"type": "function", "function": {"name": "get_time"}}, {"get_time"}),
    ],
)
def test_forced_tool_choice_returns_a_call(
    backend: EmbeddedBackend, tool_choice: Any, names: set[str]
) -> None:
    inputs = ask(
        "What is the weather in Paris?",
        max_tokens=48,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=tool_choice,
    )
    result = completed(backend, inputs)

    assert result["finish_reason"] == "tool_calls", result
    assert result["response"] == ""
    [call] = result["tool_calls"]
    assert call["name"] in names
    expected_key = "city" if call["name"] == "get_weather" else "timezone"
    assert set(call["arguments"]) == {expected_key}
    assert isinstance(call["arguments"][expected_key], str)


def test_streamed_tool_call_sends_its_name_then_its_arguments_as_generated(
    backend: EmbeddedBackend,
) -> None:
    inputs = ask("Weather in Rome?", max_tokens=48, tools=[WEATHER_TOOL], tool_choice="required")
    events, times, _ = streamed(backend, inputs)

    *fragments, final, done = events
    assert done == "[DONE]" and final["finish_reason"] == "tool_calls"
    assert "tool_calls" not in final and final["response"] == ""  # not repeated whole
    assert all(event["response"] == "" for event in fragments)  # no text
    calls = [event["tool_calls"][0] for event in fragments]
    assert calls[0] == {
        "index": 0,
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert len(calls) > 3 and all(set(call["function"]) == {"arguments"} for call in calls[1:])
    arguments = "".join(call["function"]["arguments"] for call in calls)
    assert json.loads(arguments) == completed(backend, inputs)["tool_calls"][0]["arguments"]
    assert times[0] < times[len(calls) - 1]  # the name before the arguments are all there


def test_call_cut_by_max_tokens_comes_back_as_a_cut_call_not_as_text(
    backend: EmbeddedBackend,
) -> None:
    inputs = ask("Weather in Rome?", tools=[WEATHER_TOOL], tool_choice="required")
    events, _, _ = streamed(backend, {**inputs, "max_tokens": 48})
    whole = "".join(event["tool_calls"][0]["function"]["arguments"] for event in events[:-2])
    for max_tokens in (3, 16):  # cut inside the name, and inside the arguments
        result = completed(backend, {**inputs, "max_tokens": max_tokens})
        assert result["response"] == "" and result["finish_reason"] == "length"
        [call] = result["tool_calls"]
        assert call["name"] == "get_weather"
        assert isinstance(call["arguments"], str) and whole.startswith(call["arguments"])
        assert len(call["arguments"]) < len(whole)

        events, _, _ = streamed(backend, {**inputs, "max_tokens": max_tokens})
        *fragments, final, _ = events
        assert final["finish_reason"] == "length" and "tool_calls" not in final
        assert fragments[0]["tool_calls"][0]["function"]["name"] == "get_weather"
        pieces = [event["tool_calls"][0]["function"]["arguments"] for event in fragments]
        assert "".join(pieces) == call["arguments"]
    assert call["arguments"]  # 16 tokens reach into the arguments


def test_tool_without_parameters_is_called_with_no_arguments(backend: EmbeddedBackend) -> None:
    ping = {"type": "function", "function": {"name": "ping", "description": "Check the server."}}
    result = completed(
        backend, ask("Ping the server.", max_tokens=48, tools=[ping], tool_choice="required")
    )
    assert result["tool_calls"] == [{"name": "ping", "arguments": {}}]


def test_tool_choice_none_answers_text(backend: EmbeddedBackend) -> None:
    inputs = ask("Say hello.", max_tokens=16, tools=[WEATHER_TOOL], tool_choice="none")
    result = completed(backend, inputs)

    assert "tool_calls" not in result
    assert result["response"].strip() and result["finish_reason"] in ("stop", "length")


def test_concurrent_requests_are_queued_not_mixed(backend: EmbeddedBackend) -> None:
    questions = ["Name a fruit.", "What is 2 plus 2?", "Write a haiku about snow."]
    alone = [completed(backend, ask(q, max_tokens=20)) for q in questions]

    async def together() -> list[Any]:
        return await asyncio.gather(*(backend.run(MODEL, ask(q, max_tokens=20)) for q in questions))

    assert asyncio.run(together()) == alone


def test_closing_a_stream_stops_generation(backend: EmbeddedBackend) -> None:
    inputs = ask("Write a long story about a dragon.", max_tokens=96, stream=True)

    async def read_two_then_close() -> int:
        before = backend.tokens_generated
        stream = await backend.run(MODEL, inputs)
        for _ in range(2):
            await anext(stream)
        await stream.aclose()
        assert not backend.busy  # aclose returns once the worker has let go
        return backend.tokens_generated - before

    generated = asyncio.run(read_two_then_close())
    assert 2 <= generated < 20


def test_cancelled_request_stops_and_queued_one_never_starts(backend: EmbeddedBackend) -> None:
    async def scenario() -> tuple[int, int]:
        before = backend.tokens_generated
        running = asyncio.create_task(backend.run(MODEL, ask("Tell a long story.", max_tokens=96)))
        queued = asyncio.create_task(backend.run(MODEL, ask("Tell another.", max_tokens=96)))
        for _ in range(1000):  # until the first request is generating
            if backend.tokens_generated - before >= 2:
                break
            await asyncio.sleep(0.005)
        queued.cancel()
        running.cancel()
        for task in (running, queued):
            with pytest.raises(asyncio.CancelledError):
                await task
        generated = backend.tokens_generated - before
        await asyncio.sleep(0.2)  # nothing more happens afterwards
        return generated, backend.tokens_generated - before

    generated, later = asyncio.run(scenario())
    assert generated < 20 and later == generated
    assert not backend.busy


@pytest.mark.parametrize(
    ("inputs", "param"),
    [
        ({"max_tokens": 5}, "messages"),
        ({"prompt": "Hi", "max_tokens": "many"}, "max_tokens"),
        ({"prompt": "Hi", "response_format": {"type": "xml"}}, "response_format"),
        ({"prompt": "Hi", "tools": [WEATHER_TOOL], "tool_choice": {"name": "nope"}}, "tool_choice"),
        ({"prompt": "Hi", "stop": ["x" * 990_000]}, "stop"),
        ({"prompt": "Hi", "response_format": CRASHING_FORMAT}, "response_format"),
        ({"prompt": "Hi", "tools": [CRASHING_TOOL], "tool_choice": "required"}, "tools"),
    ],
)
def test_invalid_inputs_are_refused_before_generating(
    backend: EmbeddedBackend, inputs: dict[str, Any], param: str
) -> None:
    before = backend.tokens_generated
    with pytest.raises(InvalidRequest) as caught:
        completed(backend, inputs)

    assert caught.value.param == param
    assert backend.tokens_generated == before


def test_prompt_larger_than_the_context_is_refused(backend: EmbeddedBackend) -> None:
    with pytest.raises(ContextOverflow) as caught:
        completed(backend, {"prompt": "hello " * 9000})

    assert caught.value.param == "prompt"
    numbers = [int(n) for n in re.findall(r"\d+", caught.value.message)]
    assert 8192 in numbers and any(n > 9000 for n in numbers), caught.value.message


def test_model_loads_once_under_concurrent_first_use(caplog: pytest.LogCaptureFixture) -> None:
    fresh = EmbeddedBackend(n_ctx=512)

    async def both() -> None:
        await asyncio.gather(fresh.load(), fresh.load())
        await fresh.aclose()

    with caplog.at_level(logging.INFO, logger="llm_api.embedded"):
        asyncio.run(both())
    loaded = [r for r in caplog.records if "loaded" in r.getMessage()]
    assert len(loaded) == 1 and "SmolLM2-135M-Instruct" in loaded[0].getMessage()


def test_two_backends_loading_at_once_leave_llama_cpp_defaults_restored() -> None:
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params
    first, second = EmbeddedBackend(n_ctx=512), EmbeddedBackend(n_ctx=512)

    async def both() -> None:
        await asyncio.gather(first.load(), second.load())  # two worker threads build at once
        await asyncio.gather(first.aclose(), second.aclose())

    asyncio.run(both())
    assert native.llama_model_default_params is original


def test_a_patched_build_waits_for_the_one_in_progress() -> None:
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params
    inside, release, seen = threading.Event(), threading.Event(), []

    def build(value: bool, hold: bool) -> None:
        with llama_build(use_extra_bufts=value):
            seen.append(native.llama_model_default_params().use_extra_bufts)
            if hold:
                inside.set()
                release.wait(10)

    holder = threading.Thread(target=build, args=(False, True))
    holder.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=build, args=(True, False))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and seen == [False]  # blocked until the first build ends
    release.set()
    holder.join(10)
    waiter.join(10)
    assert seen == [False, True]
    assert native.llama_model_default_params is original


def test_missing_model_file_is_a_clear_error(tmp_path: Any) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(BackendError, match="does not exist"):
        asyncio.run(EmbeddedBackend(missing).load())


def test_schema_grammars_keep_control_characters_out_of_json_strings():
    from llm_api.platform.embedded.grammar import response_format_gbnf

    schema = {"type": "object", "properties": {"word": {"type": "string"}}}
    grammar = response_format_gbnf({"type": "json_schema", "json_schema": schema})
    char_rule = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert char_rule.startswith('char ::= [^"\\\\\\x7F\\x00-\\x1F] |')


def test_grammar_that_crashes_llama_cpp_is_a_400_and_the_backend_still_works(
    backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lift the bounds, as if they had missed this schema: the child process must catch it.
    for name in ("MAX_REPETITION", "MAX_GBNF_CHARS", "MAX_GBNF_NESTING"):
        monkeypatch.setattr(limits, name, 10**9)
    assert backend._grammars is not None
    restarts = backend._grammars.checker.restarts
    with pytest.raises(InvalidRequest) as caught:
        completed(backend, ask("List tags.", max_tokens=4, response_format=CRASHING_FORMAT))

    assert caught.value.param == "response_format"
    assert "crashed with status" in caught.value.message
    assert backend._grammars.checker.restarts == restarts + 1
    # The server process is untouched: text and grammars both still work.
    assert completed(backend, ask("Say hi.", max_tokens=4))["usage"]["completion_tokens"] > 0
    json_mode = ask("A JSON object, please.", max_tokens=8, response_format={"type": "json_object"})
    assert completed(backend, json_mode)["response"].startswith("{")


def test_backend_keeps_a_bounded_number_of_grammars(backend: EmbeddedBackend) -> None:
    assert backend._grammars is not None
    for index in range(GRAMMAR_CACHE_ENTRIES + 10):
        backend._grammar(f'root ::= "{index}" [a-z]*', "response_format")

    assert len(backend._grammars) == GRAMMAR_CACHE_ENTRIES


def spy_on_tokens(backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set as the worker samples its first token."""
    sampled = threading.Event()
    is_eog = backend._is_eog

    def spy(token: int) -> bool:
        sampled.set()
        return is_eog(token)

    monkeypatch.setattr(backend, "_is_eog", spy)
    return sampled


def test_abandoned_non_streaming_request_stops_within_a_token_and_queued_never_starts(
    backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The HTTP layer cancels the handler's task when its client goes away (finding 7).
    sampled = spy_on_tokens(backend, monkeypatch)
    submitted: list[Any] = []
    submit = backend._submit

    def spy(job: Any, work: Any) -> Any:
        submitted.append(job)
        if len(submitted) == 2:
            both.set()
        return submit(job, work)

    monkeypatch.setattr(backend, "_submit", spy)

    async def scenario() -> tuple[int, int, list[Any]]:
        first = asyncio.create_task(backend.run(MODEL, ask("Tell a long story.", max_tokens=200)))
        second = asyncio.create_task(backend.run(MODEL, ask("And another.", max_tokens=200)))
        await both.wait()
        assert await asyncio.to_thread(sampled.wait, 60)
        queued = [job for job in submitted if not job.future.running()]
        at_cancel = backend.tokens_generated
        first.cancel()
        second.cancel()
        for task in (first, second):
            with pytest.raises(asyncio.CancelledError):
                await task
        after = backend.tokens_generated - at_cancel
        assert not backend.busy  # the worker let go before the cancellation returned
        await asyncio.sleep(0.1)
        return after, backend.tokens_generated - at_cancel, queued

    both = asyncio.Event()
    after, later, queued = asyncio.run(scenario())
    assert after <= 2 and later == after
    assert len(queued) == 1 and queued[0].future.cancelled()


def test_abandoned_request_stops_within_one_chunk_of_a_long_prompt(
    backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[int] = []
    started = threading.Event()
    evaluate = backend._llm.eval

    def spy(tokens: list[int]) -> None:
        started.set()
        evaluate(tokens)
        evaluated.append(len(tokens))

    monkeypatch.setattr(backend._llm, "eval", spy)
    before = backend.tokens_generated

    async def scenario() -> None:
        task = asyncio.create_task(backend.run(MODEL, {"prompt": "word " * 3000}))
        assert await asyncio.to_thread(started.wait, 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    # The prompt is 3,000 tokens; the worker stopped after the chunk it was in.
    assert sum(evaluated) <= 2 * PREFILL_CHUNK_TOKENS, evaluated
    assert backend.tokens_generated == before and not backend.busy
