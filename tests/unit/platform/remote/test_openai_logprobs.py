"""An OpenAI-compatible upstream's logprobs, through the whole app (issue 15, item 4).

Before: ``logprobs`` never reached the upstream (not a passed input) and its answer's
``choices[0].logprobs`` was dropped, so /v1 said ``logprobs: null``. The upstream here
answers in the documented Chat Completions shapes (OpenAI API reference, "The chat
completion object" and "The chat completion chunk object").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.sse import sse_data
from tests.unit.platform.remote.test_upstream_payloads import (
    DONE,
    SSE,
    Canned,
    CannedUpstream,
    openai,
)

HELLO = {
    "token": "Hello",
    "logprob": -0.31725305,
    "bytes": [72, 101, 108, 108, 111],
    "top_logprobs": [{"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111]}],
}
BANG = {"token": "!", "logprob": -0.02, "bytes": [33], "top_logprobs": []}


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedUpstream]:
    with CannedUpstream() as server:
        yield server  # type: ignore[misc]


def ask(upstream: CannedUpstream, *, stream: bool) -> httpx.Response:
    backend = openai(upstream)

    async def scenario() -> httpx.Response:
        platform = Platform(
            ai=backend,
            settings=Settings(backend_retries=0),
            keys=MemoryKeyStore(),
            limiter=InProcessLimiter(),
            usage=MemoryUsageStore(),
        )
        key, record = new_key("logprobs")
        await platform.keys.put(record)
        transport = httpx.ASGITransport(app=create_app(fixed_platform(platform)))
        body = {
            "model": "llama-3.2-3b-instruct",
            "messages": [{"role": "user", "content": "hi"}],
            "logprobs": True,
            "top_logprobs": 1,
            "stream": stream,
        }
        try:
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://app",
                headers={"authorization": f"Bearer {key}"},
            ) as client:
                return await client.post("/v1/chat/completions", json=body)
        finally:
            await backend.aclose()

    return asyncio.run(scenario())


def chunk(content: str | None, logprobs: Any, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
    payload = {"object": "chat.completion.chunk", "choices": [choice]}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def test_an_upstreams_logprobs_reach_the_client_whole(canned: CannedUpstream) -> None:
    upstream = canned
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello!"},
        "finish_reason": "stop",
        "logprobs": {"content": [HELLO, BANG], "refusal": None},
    }
    upstream.answers.append(Canned(json.dumps({"choices": [choice]}).encode()))
    response = ask(upstream, stream=False)
    assert response.status_code == 200
    assert response.json()["choices"][0]["logprobs"] == {"content": [HELLO, BANG], "refusal": None}


def test_an_upstreams_streamed_logprobs_reach_the_client_per_chunk(canned: CannedUpstream) -> None:
    upstream = canned
    frames = [
        chunk("Hello", {"content": [HELLO], "refusal": None}),
        chunk("!", {"content": [BANG], "refusal": None}),
        chunk(None, None, "stop"),
        DONE,
    ]
    upstream.answers.append(Canned(frames, SSE))
    response = ask(upstream, stream=True)
    assert response.status_code == 200
    scored = [
        (c["choices"][0]["delta"].get("content"), c["choices"][0]["logprobs"])
        for c in sse_data(response.text)[:-1]
        if c["choices"]
    ]
    assert scored[:2] == [
        ("Hello", {"content": [HELLO], "refusal": None}),
        ("!", {"content": [BANG], "refusal": None}),
    ]


def test_an_upstream_that_gives_no_logprobs_answers_null(canned: CannedUpstream) -> None:
    upstream = canned
    choice = {"message": {"content": "Hello!"}, "finish_reason": "stop"}
    upstream.answers.append(Canned(json.dumps({"choices": [choice]}).encode()))
    response = ask(upstream, stream=False)
    assert response.status_code == 200
    assert response.json()["choices"][0]["logprobs"] is None
