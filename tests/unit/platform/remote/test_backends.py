"""The remote backends against real HTTP servers that speak their upstreams' protocols."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from llm_api.binding.events import StreamAssembler, parse_event
from llm_api.binding.protocol import AIBinding
from llm_api.errors import (
    ApiError,
    BackendBusy,
    BackendError,
    BackendQuotaExceeded,
    BackendTimeout,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
)
from llm_api.platform.remote.openai import OpenAICompatibleBackend, chat_request
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.sse import DONE_FRAME, SSEParser
from tests.support.fake_upstreams import (
    FakeOpenAI,
    FakeWorkersAI,
    openai_upstream,
    workers_ai_upstream,
)

MODEL = "@cf/meta/llama-3.2-3b-instruct"
REPLY = "Hello from the fake upstream."
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather", "parameters": {}},
    },
    {"type": "function", "function": {"name": "get_time", "description": "Time", "parameters": {}}},
]


@pytest.fixture(scope="module")
def workers_ai() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream() as fake:
        fake.state.slow_seconds = 1.0
        yield fake


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with openai_upstream(api_key="sk-upstream") as fake:
        fake.state.slow_seconds = 1.0
        yield fake


def wa_backend(fake: FakeWorkersAI, **kwargs: Any) -> WorkersAIRestBackend:
    return WorkersAIRestBackend(
        fake.account_id, fake.token, base_url=fake.base_url, gateway_url=fake.gateway_url, **kwargs
    )


def oa_backend(fake: FakeOpenAI, **kwargs: Any) -> OpenAICompatibleBackend:
    kwargs.setdefault("api_key", "sk-upstream")
    return OpenAICompatibleBackend(fake.base_url, **kwargs)


async def call(backend: Any, inputs: dict[str, Any], **kwargs: Any) -> Any:
    try:
        return await backend.run(MODEL, inputs, **kwargs)
    finally:
        await backend.aclose()


async def call_stream(backend: Any, inputs: dict[str, Any], **kwargs: Any) -> bytes:
    try:
        stream = await backend.run(MODEL, {**inputs, "stream": True}, **kwargs)
        return b"".join([chunk async for chunk in stream])
    finally:
        await backend.aclose()


def events(raw: bytes) -> list[Any]:
    parser = SSEParser()
    data = parser.feed(raw) + parser.close()
    return [item if item == "[DONE]" else json.loads(item) for item in data]


def raised(coro: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        asyncio.run(coro)
    return info.value


def wait_for_outcome(fake: FakeWorkersAI | FakeOpenAI, key: str) -> str | None:
    deadline = time.monotonic() + 3
    while key not in fake.state.outcomes and time.monotonic() < deadline:
        time.sleep(0.01)
    return fake.state.outcomes.get(key)


# ---- Workers AI REST ---------------------------------------------------------------


def test_workers_ai_answers_in_the_binding_shape(workers_ai: FakeWorkersAI) -> None:
    backend = wa_backend(workers_ai)
    assert isinstance(backend, AIBinding)
    assert backend.engine == "workers-ai"
    inputs = {"prompt": "Say hi", "max_tokens": 64, "temperature": 0.2, "top_k": 5}
    result = asyncio.run(call(backend, inputs))
    assert result == {
        "response": REPLY,
        "usage": {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8},
    }
    sent = workers_ai.state.requests[-1]
    assert sent.path == f"/client/v4/accounts/acct-123/ai/run/{MODEL}"
    assert sent.headers["authorization"] == "Bearer test-token"
    assert sent.body == {**inputs, "options": {"rejectIfBusy": True}}  # facts-14 §3 [RIB]


def test_workers_ai_json_mode_object_becomes_text(workers_ai: FakeWorkersAI) -> None:
    result = asyncio.run(call(wa_backend(workers_ai), {"prompt": "json please"}))
    assert json.loads(result["response"]) == {"answer": 42}


def test_workers_ai_tool_calls_and_tool_choice(workers_ai: FakeWorkersAI) -> None:
    backend = wa_backend(workers_ai)
    inputs = {"messages": [{"role": "user", "content": "twotools"}], "tools": TOOLS}
    result = asyncio.run(call(backend, {**inputs, "tool_choice": "auto"}))
    assert result["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"timezone": "Europe/Paris"}},
    ]
    # Workers AI has no tool_choice
    assert workers_ai.state.requests[-1].body == {**inputs, "options": {"rejectIfBusy": True}}

    named = {"type": "function", "function": {"name": "get_time"}}
    asyncio.run(call(backend, {**inputs, "tool_choice": named}))
    assert workers_ai.state.requests[-1].body["tools"] == [TOOLS[1]]
    asyncio.run(call(backend, {**inputs, "tool_choice": "none"}))
    assert "tools" not in workers_ai.state.requests[-1].body


def test_workers_ai_stream_passes_frames_through(workers_ai: FakeWorkersAI) -> None:
    raw = asyncio.run(call_stream(wa_backend(workers_ai), {"prompt": "stream tool"}))
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    frames = events(raw)
    assert "".join(frame["response"] for frame in frames[:-1]) == REPLY
    assert frames[-2]["usage"] == {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}
    assert frames[-2]["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
    ]
    assert workers_ai.state.requests[-1].headers["accept"] == "text/event-stream"


def test_workers_ai_stream_gets_done_when_upstream_omits_it(workers_ai: FakeWorkersAI) -> None:
    raw = asyncio.run(call_stream(wa_backend(workers_ai), {"prompt": "nodone"}))
    assert raw.endswith(b'"total_tokens": 7}}\n\ndata: [DONE]\n\n')
    assert events(raw)[-1] == "[DONE]"


def test_workers_ai_gateway_url_and_headers(workers_ai: FakeWorkersAI) -> None:
    gateway = {"id": "my-gw", "skipCache": True, "cacheTtl": 60, "metadata": {"app": "t"}}
    result = asyncio.run(
        call(wa_backend(workers_ai), {"prompt": "hi"}, options={"gateway": gateway})
    )
    assert result["response"] == REPLY
    sent = workers_ai.state.requests[-1]
    assert sent.path == f"/v1/acct-123/my-gw/workers-ai/{MODEL}"
    assert sent.headers["cf-aig-skip-cache"] == "true"
    assert sent.headers["cf-aig-cache-ttl"] == "60"
    assert json.loads(sent.headers["cf-aig-metadata"]) == {"app": "t"}


WORKERS_AI_ERRORS = [
    # word, error class, status, retryable, retry_after
    ("capacity", BackendBusy, 503, True, 2.0),
    ("quota", BackendQuotaExceeded, 429, False, "until midnight UTC"),
    ("nomodel", ModelNotFound, 404, False, None),
    ("badmodel", ModelNotFound, 404, False, None),
    ("toolarge", PayloadTooLarge, 413, False, None),
    ("upstreamtimeout", BackendTimeout, 504, True, None),
    ("internal", BackendError, 502, False, None),
    ("htmlerror", BackendError, 502, True, None),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("word", "kind", "status", "retryable", "wait"), WORKERS_AI_ERRORS)
def test_workers_ai_error_codes(
    workers_ai: FakeWorkersAI,
    stream: bool,
    word: str,
    kind: type[ApiError],
    status: int,
    retryable: bool,
    wait: float | str | None,
) -> None:
    inputs = {"prompt": f"{word} please", "stream": stream}
    error = raised(call(wa_backend(workers_ai), inputs))
    assert type(error) is kind
    if wait == "until midnight UTC":  # 3036: the free allocation resets at 00:00 UTC
        assert error.retry_after is not None and 0 < error.retry_after <= 86_400
        wait = error.retry_after
    assert (error.status, error.retryable, error.retry_after) == (status, retryable, wait)
    if word == "capacity":
        assert error.message == "Workers AI: Capacity temporarily exceeded, please try again."


def test_workers_ai_bad_token_is_a_server_fault(workers_ai: FakeWorkersAI) -> None:
    backend = WorkersAIRestBackend("acct-123", "wrong-secret", base_url=workers_ai.base_url)
    error = raised(call(backend, {"prompt": "hi"}))
    assert (type(error), error.status) == (BackendError, 502)
    assert error.message == "Workers AI: Authentication error"


def test_workers_ai_rejects_a_model_id_that_is_a_path(workers_ai: FakeWorkersAI) -> None:
    count = len(workers_ai.state.requests)
    backend = wa_backend(workers_ai)
    with pytest.raises(ModelNotFound):
        asyncio.run(backend.run("@cf/../../user/tokens", {"prompt": "hi"}))
    assert len(workers_ai.state.requests) == count


# ---- OpenAI-compatible --------------------------------------------------------------


def test_openai_answers_in_the_binding_shape(openai_fake: FakeOpenAI) -> None:
    backend = oa_backend(openai_fake, model="fake-model")
    assert backend.engine == "openai:fake-model"
    inputs = {"prompt": "Say hi", "max_tokens": 64, "top_k": 5, "repetition_penalty": 1.1}
    result = asyncio.run(call(backend, inputs))
    assert result == {
        "response": REPLY,
        "usage": {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8},
        "finish_reason": "stop",
    }
    sent = openai_fake.state.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-upstream"
    assert sent.body == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 64,
        "top_k": 5,
        "repetition_penalty": 1.1,
    }


def test_openai_sends_the_catalog_id_without_a_configured_model(openai_fake: FakeOpenAI) -> None:
    backend = oa_backend(openai_fake)
    assert backend.engine == "openai:catalog-id"
    result = asyncio.run(call(backend, {"prompt": "hi", "max_tokens": 2}))
    assert (result["response"], result["finish_reason"]) == ("Hello from", "length")
    assert openai_fake.state.requests[-1].body["model"] == MODEL


def test_openai_request_mapping() -> None:
    inputs = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather and time?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}},
                    {"name": "get_time", "arguments": {}},
                ],
            },
            {"role": "tool", "name": "get_time", "content": "12:00"},
            {"role": "tool", "content": {"temp": 20}},
        ],
        "tools": [{"name": "get_time", "description": "Time", "parameters": {}}],
        "tool_choice": "required",
        "response_format": {"type": "json_schema", "json_schema": {"type": "object"}},
        "seed": 7,
        "stop": ["\n\n"],
        "stream": True,
    }
    body = chat_request("m", inputs)
    assert body["messages"][2]["tool_calls"] == [
        {
            "id": "call_2_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_2_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert body["messages"][3] == {"role": "tool", "content": "12:00", "tool_call_id": "call_2_1"}
    assert body["messages"][4] == {
        "role": "tool",
        "content": '{"temp": 20}',
        "tool_call_id": "call_2_0",
    }
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_time", "description": "Time", "parameters": {}},
        }
    ]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    assert (body["tool_choice"], body["seed"], body["stop"]) == ("required", 7, ["\n\n"])
    assert body["stream_options"] == {"include_usage": True}
    with pytest.raises(InvalidRequest):
        chat_request("m", {"max_tokens": 5})


TWO_CALLS = [
    {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}', "id": "call_0"},
    {"name": "get_time", "arguments": '{"timezone": "Europe/Paris"}', "id": "call_1"},
]


def test_openai_tool_calls_non_stream(openai_fake: FakeOpenAI) -> None:
    inputs = {"messages": [{"role": "user", "content": "twotools"}], "tools": TOOLS}
    result = asyncio.run(call(oa_backend(openai_fake), inputs))
    assert result == {
        "response": "",
        "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
        "tool_calls": TWO_CALLS,  # arguments as sent: the generation service judges them
        "finish_reason": "tool_calls",
    }
    bad = asyncio.run(call(oa_backend(openai_fake), {"prompt": "badargs", "tools": TOOLS}))
    assert [(c["name"], c["arguments"]) for c in bad["tool_calls"]] == [
        ("get_weather", '{"city": "Par')
    ]


def test_openai_stream_becomes_binding_frames(openai_fake: FakeOpenAI) -> None:
    raw = asyncio.run(call_stream(oa_backend(openai_fake), {"prompt": "Say hi"}))
    frames = events(raw)
    assert frames[:-2] == [
        {"response": piece} for piece in ["Hello", " from", " the", " fake", " upstream", "."]
    ]
    assert frames[-2] == {
        "response": "",
        "usage": {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8},
        "finish_reason": "stop",
    }
    assert raw.endswith(DONE_FRAME)
    sent = openai_fake.state.requests[-1].body
    assert (sent["stream"], sent["stream_options"]) == (True, {"include_usage": True})


def test_openai_stream_passes_tool_call_fragments_on_as_they_arrive(
    openai_fake: FakeOpenAI,
) -> None:
    raw = asyncio.run(call_stream(oa_backend(openai_fake), {"prompt": "twotools", "tools": TOOLS}))
    frames = events(raw)
    assert frames[-2:] == [
        {
            "response": "",
            "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
            "finish_reason": "tool_calls",  # the calls are not repeated whole
        },
        "[DONE]",
    ]
    fragments = frames[:-2]
    assert len(fragments) > 2 and all(
        set(frame) == {"response", "tool_calls"} for frame in fragments
    )
    assembler = StreamAssembler()
    for frame in fragments:
        assembler.feed(parse_event(json.dumps(frame)))
    assert assembler.result()["tool_calls"] == TWO_CALLS  # the fragments joined, ids kept


def test_openai_stream_survives_frames_split_inside_characters(openai_fake: FakeOpenAI) -> None:
    frames = events(asyncio.run(call_stream(oa_backend(openai_fake), {"prompt": "unicode"})))
    assert "".join(frame["response"] for frame in frames[:-1]) == "Grüße 👋 ok"


def test_openai_error_event_mid_stream_raises(openai_fake: FakeOpenAI) -> None:
    async def scenario() -> list[bytes]:
        backend = oa_backend(openai_fake)
        received: list[bytes] = []
        try:
            stream = await backend.run(MODEL, {"prompt": "midstream", "stream": True})
            with pytest.raises(BackendError, match="CUDA out of memory"):
                async for chunk in stream:
                    received.append(chunk)
        finally:
            await backend.aclose()
        return received

    assert asyncio.run(scenario()) == [b'data: {"response":"Hello"}\n\n']


def test_openai_stream_cut_short_raises(openai_fake: FakeOpenAI) -> None:
    error = raised(call_stream(oa_backend(openai_fake), {"prompt": "noend"}))
    assert type(error) is BackendError
    assert "ended the stream" in error.message


OPENAI_ERRORS = [
    # word, error class, status, retryable, retry_after, words of the message
    ("nomodel", ModelNotFound, 404, False, None, "does not exist"),
    ("ratelimit", BackendBusy, 503, True, 7.0, "Rate limit reached"),
    ("servererror", BackendError, 502, True, None, "Internal Server Error"),
    ("badrequest", InvalidRequest, 400, False, None, "max_tokens must be at least 1"),
    ("unavailable", BackendBusy, 503, True, 2.0, "model is loading"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("word", "kind", "status", "retryable", "wait", "text"), OPENAI_ERRORS)
def test_openai_http_errors(
    openai_fake: FakeOpenAI,
    stream: bool,
    word: str,
    kind: type[ApiError],
    status: int,
    retryable: bool,
    wait: float | None,
    text: str,
) -> None:
    error = raised(call(oa_backend(openai_fake), {"prompt": word, "stream": stream}))
    assert type(error) is kind
    assert (error.status, error.retryable, error.retry_after) == (status, retryable, wait)
    # shown, or (a 5xx body) kept for the log only: tests/test_error_rendering.py
    assert text in (error.message if error.detail is None else error.detail)


def test_openai_wrong_key_is_a_server_fault(openai_fake: FakeOpenAI) -> None:
    error = raised(call(oa_backend(openai_fake, api_key="sk-wrong"), {"prompt": "hi"}))
    assert (type(error), error.status, error.retryable) == (BackendError, 502, False)
    assert "sk-wrong" not in error.message


# ---- both: streaming is live, failures are typed, connections are closed -------------


def backends(wa: FakeWorkersAI, oa: FakeOpenAI) -> list[tuple[Any, Any]]:
    return [(wa, lambda **kw: wa_backend(wa, **kw)), (oa, lambda **kw: oa_backend(oa, **kw))]


@pytest.mark.parametrize("which", [0, 1], ids=["workers-ai", "openai"])
def test_stream_pieces_arrive_before_upstream_finishes(
    workers_ai: FakeWorkersAI, openai_fake: FakeOpenAI, which: int
) -> None:
    fake, make = backends(workers_ai, openai_fake)[which]
    key = f"gated live {which}"

    async def scenario() -> bytes:
        backend = make()
        try:
            stream = await backend.run(MODEL, {"prompt": key, "stream": True})
            first = await asyncio.wait_for(anext(stream), 3)
            assert b"Hello" in first
            assert key not in fake.state.outcomes  # the upstream is still holding its answer
            fake.state.release(key)
            return first + b"".join([chunk async for chunk in stream])
        finally:
            await backend.aclose()

    raw = asyncio.run(scenario())
    assert "".join(e["response"] for e in events(raw)[:-1]) == REPLY
    assert wait_for_outcome(fake, key) == "completed"


@pytest.mark.parametrize("which", [0, 1], ids=["workers-ai", "openai"])
@pytest.mark.parametrize("read", [0, 2], ids=["never-read", "read-two"])
def test_closing_a_stream_early_closes_the_upstream(
    workers_ai: FakeWorkersAI, openai_fake: FakeOpenAI, which: int, read: int
) -> None:
    fake, make = backends(workers_ai, openai_fake)[which]
    key = f"endless {which} {read}"

    async def scenario() -> None:
        backend = make()
        try:
            stream = await backend.run(MODEL, {"prompt": key, "stream": True})
            for _ in range(read):
                await anext(stream)
            await stream.aclose()
        finally:
            await backend.aclose()

    asyncio.run(scenario())
    assert wait_for_outcome(fake, key) == "disconnected"


@pytest.mark.parametrize("which", [0, 1], ids=["workers-ai", "openai"])
def test_a_stream_read_up_to_done_leaves_its_connection_pooled(
    workers_ai: FakeWorkersAI, openai_fake: FakeOpenAI, which: int
) -> None:
    """The app stops reading at ``[DONE]``; the upstream connection must still be reused
    (else every stream pays a new TCP, and on the real APIs TLS, connection)."""
    _fake, make = backends(workers_ai, openai_fake)[which]

    async def scenario() -> list[tuple[int, int]]:
        backend = make()
        pooled = []
        try:
            for _ in range(3):
                stream = await backend.run(MODEL, {"prompt": "hello", "stream": True})
                async for chunk in stream:
                    if b"[DONE]" in chunk:
                        break
                await stream.aclose()
                http = backend.http()
                pooled.append((http.idle_connections(), http.connections_in_use()))
        finally:
            await backend.aclose()
        return pooled

    assert asyncio.run(scenario()) == [(1, 0)] * 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_unreachable_upstream_is_a_502(stream: bool) -> None:
    for backend, name in [
        (WorkersAIRestBackend("a", "secret", base_url=UNREACHABLE), "Workers AI"),
        (OpenAICompatibleBackend(UNREACHABLE + "/v1"), "the upstream model server"),
    ]:
        error = raised(call(backend, {"prompt": "hi", "stream": stream}))
        assert (type(error), error.status) == (BackendError, 502)
        assert error.message == f"could not reach {name}: connection refused"


@pytest.mark.parametrize("which", [0, 1], ids=["workers-ai", "openai"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_slow_upstream_times_out(
    workers_ai: FakeWorkersAI, openai_fake: FakeOpenAI, which: int, stream: bool
) -> None:
    _, make = backends(workers_ai, openai_fake)[which]
    error = raised(call(make(timeout=0.2), {"prompt": "slow", "stream": stream}))
    assert (type(error), error.status, error.retryable) == (BackendTimeout, 504, True)


@pytest.mark.parametrize("which", [0, 1], ids=["workers-ai", "openai"])
def test_stalled_stream_times_out_mid_stream(
    workers_ai: FakeWorkersAI, openai_fake: FakeOpenAI, which: int
) -> None:
    _, make = backends(workers_ai, openai_fake)[which]

    async def scenario() -> None:
        backend = make(timeout=0.2)
        try:
            stream = await backend.run(MODEL, {"prompt": f"gated stall {which}", "stream": True})
            async for _ in stream:
                pass
        finally:
            await backend.aclose()

    error = raised(scenario())
    assert type(error) is BackendTimeout
