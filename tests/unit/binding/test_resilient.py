"""Timeouts and retries around the binding: 504s, cancellation, retries before the first byte."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import fixed_platform
from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.errors import BackendBusy, BackendError, BackendQuotaExceeded, BackendTimeout
from llm_api.settings import Settings
from tests.support.sse import sse_data


class SlowAI:
    """Sleeps where told; records whether its work was cancelled or closed."""

    engine = "slow"

    def __init__(self, *, before_answer: float = 0.0, between_chunks: float = 0.0) -> None:
        self.before_answer = before_answer
        self.between_chunks = between_chunks
        self.cancelled = 0
        self.closed = 0

    async def run(self, model: str, inputs: dict[str, Any], options: Any = None) -> Any:
        try:
            await asyncio.sleep(self.before_answer)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if not inputs.get("stream"):
            return {"response": "done", "usage": None}
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            for number in range(1000):
                yield f'data: {{"response": "t{number} "}}\n\n'.encode()
                await asyncio.sleep(self.between_chunks)
        finally:
            self.closed += 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def drain(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in stream]


def test_no_first_token_in_time_is_a_backend_timeout_and_cancels_the_call():
    slow = SlowAI(before_answer=5)
    ai = ResilientAI(slow, CallPolicy(first_token_timeout_s=0.05, retries=0))
    with pytest.raises(BackendTimeout, match="too long to produce an answer"):
        run(ai.run("m", {"prompt": "x"}))
    assert slow.cancelled == 1


def test_our_own_first_token_timeout_is_not_retried_so_the_call_is_not_billed_twice():
    """The call was sent: the backend may still be generating it. Before, two retries
    re-sent it (three calls, three cancellations, up to three bills)."""
    slow = SlowAI(before_answer=5)
    ai = ResilientAI(slow, CallPolicy(first_token_timeout_s=0.05, retries=2, first_backoff_s=0))
    with pytest.raises(BackendTimeout, match="too long to produce an answer") as raised:
        run(ai.run("m", {"prompt": "x"}))
    assert slow.cancelled == 1
    assert raised.value.retryable  # the client may still retry: it is told 504


def test_a_stream_past_its_total_time_is_cut_and_closed():
    slow = SlowAI(between_chunks=0.02)
    ai = ResilientAI(slow, CallPolicy(total_timeout_s=0.2, retries=0))

    async def scenario() -> int:
        stream = await ai.run("m", {"prompt": "x", "stream": True})
        received = 0
        with pytest.raises(BackendTimeout, match="whole answer"):
            async for _ in stream:
                received += 1
        return received

    received = run(scenario())
    assert 3 <= received < 1000
    assert slow.closed == 1


class FlakyAI:
    engine = "flaky"

    def __init__(self, errors: list[BackendError]) -> None:
        self.errors = errors
        self.calls = 0

    async def run(self, model: str, inputs: dict[str, Any], options: Any = None) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"response": "ok", "usage": None}


class Waits:
    """A ``sleep`` for ResilientAI that records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def resilient(inner: Any, waits: Waits, **policy: Any) -> ResilientAI:
    return ResilientAI(inner, CallPolicy(**policy), sleep=waits)


def test_retryable_faults_are_retried_with_backoff_then_succeed():
    flaky, waits = FlakyAI([BackendBusy("busy"), BackendTimeout("slow")]), Waits()
    result = run(resilient(flaky, waits, retries=2).run("m", {"prompt": "x"}))
    assert result["response"] == "ok"
    assert flaky.calls == 3
    assert waits.waits == [0.25, 0.5]  # FIRST_BACKOFF_S, doubled


def test_retries_stop_after_the_configured_number():
    flaky, waits = FlakyAI([BackendBusy("busy")] * 3), Waits()
    with pytest.raises(BackendBusy):
        run(resilient(flaky, waits, retries=2).run("m", {"prompt": "x"}))
    assert flaky.calls == 3
    assert waits.waits == [0.25, 0.5]


def test_backoff_doubles_from_the_policys_first_wait():
    flaky, waits = FlakyAI([BackendBusy("busy")] * 4), Waits()
    run(resilient(flaky, waits, retries=4, first_backoff_s=0.1).run("m", {"prompt": "x"}))
    assert waits.waits == [0.1, 0.2, 0.4, 0.8]


def test_a_backends_retry_after_is_waited_when_longer_than_the_backoff():
    errors = [BackendBusy("busy", retry_after=2.0), BackendBusy("busy", retry_after=0.1)]
    flaky, waits = FlakyAI(errors), Waits()
    run(resilient(flaky, waits, retries=2).run("m", {"prompt": "x"}))
    assert waits.waits == [2.0, 0.5]  # the longer of the two, each time


def test_no_retry_when_the_wait_would_pass_the_total_deadline():
    flaky, waits = FlakyAI([BackendBusy("busy", retry_after=2.0)]), Waits()
    with pytest.raises(BackendBusy):
        run(resilient(flaky, waits, retries=2, total_timeout_s=1.0).run("m", {"prompt": "x"}))
    assert flaky.calls == 1 and waits.waits == []


@pytest.mark.parametrize(
    "error",
    [
        BackendQuotaExceeded("daily allocation used"),
        BackendError("bad gateway"),  # 502: not known to be transient
        BackendBusy("busy for a while", retry_after=30),  # longer than we wait for
    ],
)
def test_faults_a_retry_cannot_fix_are_not_retried(error):
    flaky, waits = FlakyAI([error]), Waits()
    with pytest.raises(BackendError):
        run(resilient(flaky, waits, retries=2).run("m", {"prompt": "x"}))
    assert flaky.calls == 1 and waits.waits == []


def test_a_stream_is_never_retried_after_its_first_token(platform, api_key, ai):
    retrying = replace(platform, settings=Settings(backend_retries=2))
    ai.script(text="one two three", fail_after_pieces=1, stream_error=BackendBusy("busy"))
    client = TestClient(
        create_app(fixed_platform(retrying)), headers={"authorization": f"Bearer {api_key}"}
    )
    response = client.post("/api/llm/generate", json={"prompt": "x", "stream": True})
    events = sse_data(response.text)
    assert events == [{"response": "one "}, {"error": "busy"}, "[DONE]"]
    assert len(ai.calls) == 1


def test_a_timeout_over_http_is_a_504_in_the_family_envelope(platform, api_key):
    slow = SlowAI(before_answer=5)
    settings = Settings(first_token_timeout_s=0.05, backend_retries=0)
    client = TestClient(
        create_app(fixed_platform(replace(platform, ai=slow, settings=settings))),
        headers={"authorization": f"Bearer {api_key}"},
    )
    response = client.post(
        "/v1/chat/completions",
        json={"model": "llama-3-8b-instruct", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "backend_timeout"
    assert json.loads(response.text)["error"]["type"] == "server_error"
    assert slow.cancelled == 1
