"""The remote backends, through the app, against an upstream that answers anything (issue 12).

A real HTTP server on loopback answers each request with the body a test queued, so the
whole path is exercised — HTTP client, backend, generation service, route, usage store:
findings 9 (usage trusted blindly: zeros for a stream without usage, 500s for ``"lots"``)
and 10 (a malformed body or delta as a 500) and the stream caps of finding 2.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from llm_api.app import create_app
from llm_api.binding.protocol import AIBinding, Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.remote.openai import OpenAICompatibleBackend
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.fake_upstreams import FakeUpstream, UpstreamState
from tests.support.sse import sse_data

CHAT = {"model": "llama-3.2-3b-instruct", "messages": [{"role": "user", "content": "hello there"}]}
ANSWER = "four words of answer"
ESTIMATED = (2, 5)  # "hello there" and ANSWER at a quarter token per character
DONE = b"data: [DONE]\n\n"


@dataclass
class Canned:
    body: bytes | list[bytes]  # a list is streamed, one chunk at a time
    content_type: str = "application/json"
    status: int = 200
    headers: dict[str, str] | None = None


class CannedUpstream(FakeUpstream):
    """Answers every POST with the next queued ``Canned``."""

    def __init__(self) -> None:
        self.answers: deque[Canned] = deque()
        super().__init__(
            Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST"])]),
            UpstreamState(),
        )

    async def _answer(self, request: Request) -> Response:
        await request.body()
        canned = self.answers.popleft()
        if isinstance(canned.body, list):
            return StreamingResponse(
                _chunks(canned.body), canned.status, canned.headers, canned.content_type
            )
        return Response(canned.body, canned.status, canned.headers, canned.content_type)


async def _chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture(scope="module")
def upstream() -> Iterator[CannedUpstream]:
    with CannedUpstream() as server:
        yield server  # type: ignore[misc]


def openai(upstream: CannedUpstream) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(f"{upstream.url}/v1")


def workers_ai(upstream: CannedUpstream) -> WorkersAIRestBackend:
    return WorkersAIRestBackend("acct", "token", base_url=f"{upstream.url}/client/v4")


def ask(backend: AIBinding, path: str, *, stream: bool) -> tuple[httpx.Response, list[Any]]:
    """One request through the app over ``backend``; the answer and the key's usage days."""

    async def scenario() -> tuple[httpx.Response, list[Any]]:
        platform = Platform(
            ai=backend,
            settings=Settings(backend_retries=0),
            keys=MemoryKeyStore(),
            limiter=InProcessLimiter(),
            usage=MemoryUsageStore(),
        )
        key, record = new_key("payloads")
        await platform.keys.put(record)
        transport = httpx.ASGITransport(app=create_app(fixed_platform(platform)))
        headers = {"authorization": f"Bearer {key}"}
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://app", headers=headers
            ) as client:
                response = await client.post(path, json={**CHAT, "stream": stream})
                days = (await client.get("/api/llm/usage")).json()["days"]
        finally:
            await backend.aclose()  # type: ignore[attr-defined]
        return response, days

    return asyncio.run(scenario())


def chunk(delta: Any, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return (
        b"data: "
        + json.dumps({"object": "chat.completion.chunk", "choices": [choice]}).encode()
        + b"\n\n"
    )


SSE = "text/event-stream"


def test_an_openai_stream_without_usage_is_recorded_with_estimated_tokens(upstream) -> None:
    # Before: the backend's final event said 0/0 tokens, and 0/0 was recorded.
    upstream.answers.append(Canned([chunk({"content": ANSWER}), chunk({}, "stop"), DONE], SSE))
    response, [day] = ask(openai(upstream), "/v1/chat/completions", stream=True)
    assert response.status_code == 200
    assert (day["prompt_tokens"], day["completion_tokens"]) == ESTIMATED
    assert day["estimated_requests"] == 1


def test_an_openai_answer_without_usage_is_recorded_with_estimated_tokens(upstream) -> None:
    body = {"choices": [{"message": {"content": ANSWER}, "finish_reason": "stop"}]}
    upstream.answers.append(Canned(json.dumps(body).encode()))
    response, [day] = ask(openai(upstream), "/v1/chat/completions", stream=False)
    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] == ESTIMATED[0]
    assert (day["prompt_tokens"], day["completion_tokens"]) == ESTIMATED
    assert day["estimated_requests"] == 1


def test_openai_usage_infinity_or_lots_is_estimated_not_a_500(upstream) -> None:
    body = (
        b'{"choices":[{"message":{"content":"%s"}}],'
        b'"usage":{"prompt_tokens":Infinity,"completion_tokens":"lots"}}'
    )
    upstream.answers.append(Canned(body % ANSWER.encode()))
    response, [day] = ask(openai(upstream), "/api/v1/llm/chat", stream=False)
    assert response.status_code == 200
    assert (day["prompt_tokens"], day["completion_tokens"]) == ESTIMATED
    assert day["estimated_requests"] == 1


def test_an_openai_message_that_is_a_string_is_a_502_not_a_500(upstream) -> None:
    upstream.answers.append(Canned(b'{"choices":[{"message":"str"}]}'))
    response, days = ask(openai(upstream), "/v1/chat/completions", stream=False)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "backend_error"
    assert days == []  # nothing answered, nothing billed


def test_a_bad_openai_delta_first_is_a_502(upstream) -> None:
    upstream.answers.append(Canned([b'data: {"choices":[{"delta":"x"}]}\n\n', DONE], SSE))
    response, _ = ask(openai(upstream), "/api/llm/chat/completions", stream=True)
    assert response.status_code == 502
    assert "delta" in response.json()["error"]


def test_a_bad_openai_delta_mid_stream_is_an_error_frame_then_done(upstream) -> None:
    frames = [
        chunk({"content": "Hello"}),
        b'data: {"choices":[{"delta":{"tool_calls":5}}]}\n\n',
        DONE,
    ]
    upstream.answers.append(Canned(frames, SSE))
    response, _ = ask(openai(upstream), "/v1/chat/completions", stream=True)
    assert response.status_code == 200
    *_, error, done = sse_data(response.text)
    assert done == "[DONE]"
    assert error["error"]["code"] == "backend_error" and "tool_calls" in error["error"]["message"]


def test_a_workers_ai_stream_event_over_the_cap_is_an_error_frame_then_done(upstream) -> None:
    # Before: a 2 MiB "token" passed through to the client (and any size would have).
    huge = b'data: {"response":"' + b"x" * (2 << 20) + b'"}\n\n'
    upstream.answers.append(Canned([b'data: {"response":"Hello"}\n\n', huge, DONE], SSE))
    response, _ = ask(workers_ai(upstream), "/api/llm/chat/completions", stream=True)
    assert response.status_code == 200
    events = sse_data(response.text)
    assert events[0] == {"response": "Hello"}
    assert events[-1] == "[DONE]"
    assert "over 1048576 bytes" in events[-2]["error"]
    assert len(response.content) < 10_000


def test_workers_ai_negative_usage_is_estimated_not_billed(upstream) -> None:
    result = {
        "response": ANSWER,
        "usage": {"prompt_tokens": -(10**9), "completion_tokens": -(10**9)},
    }
    upstream.answers.append(Canned(json.dumps({"result": result, "success": True}).encode()))
    response, [day] = ask(workers_ai(upstream), "/api/llm/chat/completions", stream=False)
    assert response.status_code == 200
    assert (day["prompt_tokens"], day["completion_tokens"]) == ESTIMATED  # was -10**9 each
    assert day["cost_usd"] > 0 and day["estimated_requests"] == 1


def test_a_body_nested_past_the_json_decoders_limit_is_a_502_not_a_500(upstream) -> None:
    upstream.answers.append(Canned(b"[" * 100_000))  # RecursionError, not ValueError
    response, _ = ask(openai(upstream), "/v1/chat/completions", stream=False)
    assert response.status_code == 502


@pytest.mark.parametrize("code", [b"1e400", b'"lots"', b"[3040]", b"null"])
def test_a_workers_ai_error_code_that_is_not_a_number_is_a_502_not_a_500(upstream, code) -> None:
    body = b'{"success":false,"errors":[{"code":%s,"message":"busy"}]}' % code
    upstream.answers.append(Canned(body, status=503))
    response, _ = ask(workers_ai(upstream), "/v1/chat/completions", stream=False)
    assert response.status_code == 502  # an unknown code; 1e400 (read as inf) was a 500
    assert response.json()["error"]["code"] == "backend_error"


@pytest.mark.parametrize("wait", ["1e400", "nan", "-5"])
def test_a_retry_after_that_is_not_a_wait_is_ignored_not_a_500(upstream, wait) -> None:
    body = b'{"error":{"message":"busy"}}'
    upstream.answers.append(Canned(body, status=503, headers={"retry-after": wait}))
    response, _ = ask(openai(upstream), "/v1/chat/completions", stream=False)
    assert response.status_code == 503  # 1e400 read as inf, then failed to render: a 500
    assert 1 <= int(response.headers["retry-after"]) <= 60
