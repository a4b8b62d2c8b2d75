"""Issue 12's hostile-upstream findings (2, 7, 8, 11), one regression test each, against the
raw-socket upstream of tests/hostile_upstream.py: the openai backend must answer 502 (or
end a stream with an error) in bounded memory and time, never re-send a request, never
serve one answer to two callers, and close the upstream call when it is cancelled.

Memory is the process's peak RSS over the call (``/proc/self/status`` VmHWM, reset by
``/proc/self/clear_refs`` first), so a body that is buffered even for an instant shows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.errors import ApiError, BackendError
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.remote.client import MAX_BODY_BYTES, MAX_STREAM_BYTES, MiB
from llm_api.platform.remote.openai import OpenAICompatibleBackend
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.hostile_upstream import SMUGGLED, HostileUpstream, gzip_of, hostile_upstream

BOMB_BYTES = 256 * MiB  # what the gzip bombs inflate to: 4x the stream cap, 32x the body cap
#: peak RSS growth allowed over one hostile call: a few read buffers and the caps' counting,
#: far below any of the bodies (the old client reached 1-2 GB on the first one)
RSS_BOUND_MB = 40


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    with hostile_upstream(bomb_bytes=BOMB_BYTES) as server:
        gzip_of(b"A", BOMB_BYTES)  # made once, before any call is measured
        yield server


def peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


@dataclass
class Outcome:
    error: ApiError | None
    received: bytes  # a stream's bytes before it failed (or all of it)
    result: Any
    seconds: float
    peak_growth_mb: float


def call(upstream: HostileUpstream, word: str, *, stream: bool = False) -> Outcome:
    """One call of the openai backend for ``word``, measured."""

    async def go() -> tuple[Any, bytes]:
        backend = OpenAICompatibleBackend(upstream.base_url, timeout=5.0)
        received = bytearray()
        try:
            result = await backend.run("m", {"prompt": word, "stream": stream})
            if not stream:
                return result, b""
            async for piece in result:
                received += piece
            return None, bytes(received)
        except ApiError as error:
            return error, bytes(received)
        finally:
            await backend.aclose()

    before = rss_mb("VmRSS")
    peak_rss_reset()
    started = time.monotonic()
    result, received = asyncio.run(asyncio.wait_for(go(), 30))
    seconds = time.monotonic() - started
    growth = rss_mb("VmHWM") - before
    error = result if isinstance(result, ApiError) else None
    return Outcome(error, received, None if error else result, seconds, growth)


def assert_502(outcome: Outcome, words: str) -> None:
    assert isinstance(outcome.error, BackendError), outcome
    assert outcome.error.status == 502 and words in outcome.error.message, outcome.error.message
    assert outcome.peak_growth_mb < RSS_BOUND_MB, outcome
    assert outcome.seconds < 10, outcome


# ---- finding 2: bounded memory for upstream answers, streamed or not --------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_negative_content_length_is_bounded(upstream: HostileUpstream, stream: bool) -> None:
    """``Content-Length: -1`` then bytes without end: refused, not read until EOF."""
    outcome = call(upstream, "negativelength", stream=stream)
    assert_502(outcome, "a malformed HTTP answer")
    assert outcome.seconds < 2
    assert upstream.state.closed("negativelength").wait(2)


def test_a_declared_length_over_the_cap_is_refused_unread(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "hugelength")
    assert_502(outcome, f"an answer of 100000000000 bytes (the limit is {MAX_BODY_BYTES})")


def test_a_whole_answer_without_end_stops_at_the_body_cap(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "endlessbody")
    assert_502(outcome, "an answer larger than 8 MiB")


def test_a_gzip_bomb_answer_is_a_502_in_bounded_memory(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "gzipbomb")  # 256 MiB inflated from 256 kB
    assert_502(outcome, "an answer larger than 8 MiB")


def test_a_gzip_bomb_in_a_stream_ends_it_in_bounded_memory(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "gzipbombstream", stream=True)
    assert_502(outcome, f"a stream larger than {MAX_STREAM_BYTES // MiB} MiB")
    assert outcome.received == b'data: {"response":"boom"}\n\n'  # what came before the cap


@pytest.mark.parametrize("word", ["gzipbombstream", "endlessstream"])
def test_a_hostile_stream_never_stalls_the_event_loop(upstream: HostileUpstream, word: str) -> None:
    """While a stream is read to its cap, other requests (a ticker here) still run."""

    async def go() -> float:
        backend = OpenAICompatibleBackend(upstream.base_url)
        longest, done = 0.0, asyncio.Event()

        async def ticker() -> None:
            nonlocal longest
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                longest, last = max(longest, now - last), now

        ticking = asyncio.create_task(ticker())
        try:
            with pytest.raises(BackendError, match="larger than 64 MiB"):
                async for _ in await backend.run("m", {"prompt": word, "stream": True}):
                    pass
        finally:
            done.set()
            await ticking
            await backend.aclose()
        return longest

    assert asyncio.run(go()) < 0.2


def test_a_stream_without_end_stops_at_the_stream_cap(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "endlessstream", stream=True)
    assert_502(outcome, f"a stream larger than {MAX_STREAM_BYTES // MiB} MiB")


def test_an_endless_header_line_is_a_502(upstream: HostileUpstream) -> None:
    outcome = call(upstream, "endlessheader")
    assert_502(outcome, "a malformed HTTP answer")
    assert outcome.seconds < 2


# ---- finding 11: framing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["pluslength", "underscorelength", "hexchunk"],
    ids=["content-length +248", "content-length 2_48", "chunk size 0xf8"],
)
def test_framing_that_is_not_plain_digits_is_refused(upstream: HostileUpstream, word: str) -> None:
    """Each body is a valid answer of exactly the length its framing claims: a lenient
    parser would accept it."""
    for stream in (False, True):
        assert_502(call(upstream, word, stream=stream), "a malformed HTTP answer")


@pytest.mark.parametrize("word", ["trailing", "trailingsamepacket"])
def test_bytes_after_an_answer_never_reach_the_next_caller(
    upstream: HostileUpstream, word: str
) -> None:
    async def go() -> list[str]:
        backend = OpenAICompatibleBackend(upstream.base_url)
        try:
            first = await backend.run("m", {"prompt": word})
            # the stray answer arrives while the connection sits in the pool
            assert await asyncio.to_thread(upstream.state.stray(word).wait, 2)
            await asyncio.sleep(0.05)  # for this loop to read it: no event says when
            answers = [first["response"]]
            for _ in range(3):
                answers.append((await backend.run("m", {"prompt": "fine"}))["response"])
            return answers
        finally:
            await backend.aclose()

    assert asyncio.run(go()) == ["trailing", "fine", "fine", "fine"]
    assert SMUGGLED  # written by the upstream, never read as an answer


# ---- finding 8: a request the upstream may have received is never sent again ---------------


def test_a_post_the_upstream_read_then_dropped_is_never_resent(upstream: HostileUpstream) -> None:
    async def go() -> ApiError:
        backend = OpenAICompatibleBackend(upstream.base_url)
        resilient = ResilientAI(backend, CallPolicy(retries=2))
        try:
            await resilient.run("m", {"prompt": "fine"})  # a pooled connection to reuse
            with pytest.raises(ApiError) as raised:
                await resilient.run("m", {"prompt": "readthenclose"})
            return raised.value
        finally:
            await backend.aclose()

    error = asyncio.run(go())
    assert upstream.state.count("readthenclose") == 1
    assert (type(error), error.status, error.retryable) == (BackendError, 502, False)
    assert "closed the connection" in error.message


# ---- finding 7 (the openai backend's half): a cancelled call closes the upstream call ------


def test_cancelling_a_whole_answer_closes_the_upstream_connection(
    upstream: HostileUpstream,
) -> None:
    async def go() -> float:
        backend = OpenAICompatibleBackend(upstream.base_url)
        try:
            task = asyncio.create_task(backend.run("m", {"prompt": "hang"}))
            assert await asyncio.to_thread(upstream.state.received("hang").wait, 5)
            task.cancel()
            cancelled_at = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await asyncio.to_thread(upstream.state.closed("hang").wait, 5)
            return time.monotonic() - cancelled_at
        finally:
            await backend.aclose()

    assert asyncio.run(go()) < 1.0


# ---- pool reuse for streams -----------------------------------------------------------------


def test_a_stream_whose_body_ends_after_done_still_reuses_its_connection(
    upstream: HostileUpstream,
) -> None:
    """The app stops reading at ``[DONE]``; the body's last chunk may come later. The
    backend waits for it (briefly), else every stream would open a new connection."""

    async def go() -> int:
        backend = OpenAICompatibleBackend(upstream.base_url)
        before = upstream.state.connections
        try:
            for _ in range(3):
                stream = await backend.run("m", {"prompt": "lateend", "stream": True})
                async for piece in stream:
                    if b"[DONE]" in piece:
                        break
                await stream.aclose()
        finally:
            await backend.aclose()
        return upstream.state.connections - before

    assert asyncio.run(go()) == 1


# ---- through the app: a 502 before the first byte, an error frame after it ------------------


def test_the_app_answers_hostile_upstreams_in_the_family_envelope(
    upstream: HostileUpstream,
) -> None:
    async def go() -> tuple[httpx.Response, httpx.Response]:
        backend = OpenAICompatibleBackend(upstream.base_url)
        platform = Platform(
            ai=backend,
            settings=Settings(),
            keys=MemoryKeyStore(),
            limiter=InProcessLimiter(),
            usage=MemoryUsageStore(),
        )
        key, record = new_key("hostile")
        await platform.keys.put(record)
        app = create_app(fixed_platform(platform))
        transport = httpx.ASGITransport(app=app)
        auth = {"authorization": f"Bearer {key}"}
        messages = [{"role": "user", "content": "gzipbomb"}]
        body = {"model": "llama-3.2-3b-instruct", "messages": messages}
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://app", headers=auth, timeout=30
            ) as client:
                whole = await client.post("/v1/chat/completions", json=body)
                messages[0]["content"] = "gzipbombstream"
                streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
        finally:
            await backend.aclose()
        return whole, streamed

    whole, streamed = asyncio.run(go())
    assert whole.status_code == 502
    assert whole.json()["error"]["code"] == "backend_error"
    assert streamed.status_code == 200  # the first token was out before the bomb
    frames = [line[6:] for line in streamed.text.split("\n") if line.startswith("data: ")]
    assert json.loads(frames[0])["choices"][0]["delta"].get("content") == "boom"
    error = json.loads(frames[-2])["error"]
    assert error["code"] == "backend_error" and "larger than 64 MiB" in error["message"]
    assert frames[-1] == "[DONE]"
