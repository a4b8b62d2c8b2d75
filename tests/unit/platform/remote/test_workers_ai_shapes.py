"""The REST backend against the fake Cloudflare REST API in both I/O shapes, through the
three families' services (issue 14, items 4 and 5): Chat Completions inputs on the wire,
``chat.completion`` and ``chat.completion.chunk`` answers, gpt-oss's JSON answer to a
stream request, JSON mode run whole, reasoning only ever in /v1's ``reasoning_content``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.schemas.native import ChatRequest
from llm_api.schemas.openai import ChatCompletionRequest
from llm_api.schemas.v1 import V1ChatRequest
from llm_api.services import native, openai, v1
from llm_api.services.generation import Caller
from llm_api.settings import Settings
from tests.support.fake_upstreams import FakeWorkersAI, workers_ai_upstream
from tests.support.sse import sse_data, streamed_tool_calls

GLM = "@cf/zai-org/glm-4.7-flash"
OSS = "@cf/openai/gpt-oss-120b"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream() as upstream:
        yield upstream


def answer(fake: FakeWorkersAI, family: str, **fields: Any) -> Any:
    """What ``family``'s service answers (a body, or an SSE text) over the REST backend."""
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])

    async def go() -> Any:
        backend = WorkersAIRestBackend(fake.account_id, fake.token, base_url=fake.base_url)
        caller = Caller(ai=backend)
        try:
            if family == "native":
                out = await native.chat(caller, Settings(), ChatRequest.model_validate(fields))
            elif family == "openai":
                out = await openai.chat_completions(
                    caller, ChatCompletionRequest.model_validate(fields)
                )
            else:
                fields.pop("tools", None)
                out = await v1.chat(caller, Settings(), V1ChatRequest.model_validate(fields))
            if hasattr(out, "__aiter__"):
                return b"".join([frame async for frame in out]).decode()
            return out if isinstance(out, dict) else out.model_dump()
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("family", ["native", "openai", "v1"])
def test_a_chat_completions_model_over_rest(fake, family):
    body = answer(fake, family, model=GLM, max_tokens=50)
    sent = fake.state.requests[-1].body
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent
    if family == "native":
        assert body["text"] == "Bonjour ! Comment vas-tu ?"
        assert "reasoning" not in json.dumps(body)
        return
    message = body["choices"][0]["message"]
    assert message["content"] == "Bonjour ! Comment vas-tu ?"
    assert ("reasoning_content" in message) == (family == "openai")


@pytest.mark.parametrize("family", ["native", "openai", "v1"])
def test_a_chat_completions_stream_over_rest(fake, family):
    text = answer(fake, family, model=GLM, stream=True)
    assert fake.state.requests[-1].body["stream_options"] == {"include_usage": True}
    events = sse_data(text)
    if family == "native":
        assert "".join(e["response"] for e in events[:-1]) == "Bonjour !"
        return
    deltas = [c["delta"] for e in events[:-1] for c in e["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "Bonjour !"
    thinking = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert thinking == ("Okay, the user wants a greeting." if family == "openai" else "")
    if family == "v1":  # usage always comes last there
        assert events[-2]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 6}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_in_the_chat_completions_shape_over_rest(fake, stream):
    out = answer(
        fake,
        "openai",
        model=GLM,
        stream=stream,
        tools=TOOLS,
        tool_choice="required",
        messages=[{"role": "user", "content": "tool please"}],
    )
    sent = fake.state.requests[-1].body
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "required"
    if stream:
        calls = streamed_tool_calls(sse_data(out))
    else:
        calls = [call["function"] for call in out["choices"][0]["message"]["tool_calls"]]
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize("family", ["native", "openai", "v1"])
def test_gpt_oss_answering_a_stream_with_json_is_sent_as_a_stream(fake, family):
    events = sse_data(answer(fake, family, model=OSS, stream=True))
    assert events[-1] == "[DONE]"
    if family == "native":
        assert "".join(e["response"] for e in events[:-1]) == "Bonjour !"
    else:
        deltas = [c["delta"] for e in events[:-1] for c in e["choices"]]
        assert "".join(d.get("content") or "" for d in deltas) == "Bonjour !"
        assert all("Greeting" not in (d.get("content") or "") for d in deltas)


def test_a_streamed_json_mode_request_is_run_whole(fake):
    events = sse_data(
        answer(
            fake,
            "native",
            model="llama-3.3-70b-instruct-fp8-fast",
            stream=True,
            response_format={"type": "json_object"},
            messages=[{"role": "user", "content": "json"}],
        )
    )
    assert "stream" not in fake.state.requests[-1].body  # [JM]: JSON mode cannot stream
    assert json.loads("".join(e["response"] for e in events[:-1])) == {"answer": 42}


def test_json_mode_on_a_reasoning_model_turns_thinking_off(fake):
    body = answer(
        fake,
        "openai",
        model=GLM,
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "json please"}],
    )
    assert json.loads(body["choices"][0]["message"]["content"]) == {"answer": 42}
    assert fake.state.requests[-1].body["chat_template_kwargs"] == {"enable_thinking": False}
