"""Timeouts and retries around the AI binding.

* Time to first token and total time are bounded; on expiry the call is cancelled
  (the embedded model stops, a remote stream is closed) and the client gets a 504.
* Retryable backend faults (busy, timed out, 5xx) are retried with backoff, but only
  before the first byte: once a stream has produced a token it is never replayed.
  Our own deadlines are not retried either: the call was sent, and the backend may still
  be generating (and billing) it; the client gets the 504 and decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_api.binding.protocol import AIBinding, RunResult, SSEByteStream
from llm_api.binding.watchdog import Watchdog
from llm_api.errors import BackendError, BackendTimeout, InvalidModelOutput

if TYPE_CHECKING:
    from llm_api.settings import Settings

logger = logging.getLogger("llm_api.binding.resilient")

#: a backend asking for a longer wait than this is not retried here: the client is told
MAX_RETRY_WAIT_S = 5.0
FIRST_BACKOFF_S = 0.25


@dataclass(frozen=True, slots=True)
class CallPolicy:
    first_token_timeout_s: float = 60.0
    total_timeout_s: float = 300.0
    retries: int = 2
    #: the wait before the first retry; it doubles for each further one
    first_backoff_s: float = FIRST_BACKOFF_S

    @classmethod
    def of(cls, settings: Settings) -> CallPolicy:
        return cls(
            first_token_timeout_s=settings.first_token_timeout_s,
            total_timeout_s=settings.total_timeout_s,
            retries=settings.backend_retries,
            first_backoff_s=FIRST_BACKOFF_S,  # read now: tests of the whole app shorten it
        )


class ResilientAI:
    """``sleep`` waits between retries (tests pass one that records the waits)."""

    def __init__(
        self,
        inner: AIBinding,
        policy: CallPolicy,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.engine = inner.engine
        self._sleep = sleep

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        deadline = time.monotonic() + self.policy.total_timeout_s
        attempt = 0
        while True:
            try:
                return await self._attempt(model, inputs, options, deadline)
            except BackendError as error:
                wait = _retry_wait(error, attempt, self.policy.first_backoff_s)
                if attempt >= self.policy.retries or wait is None or _left(deadline) <= wait:
                    raise
                attempt += 1
                logger.warning("retrying %s after %s (attempt %d)", model, error.message, attempt)
                await self._sleep(wait)

    async def _attempt(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None, deadline: float
    ) -> RunResult | SSEByteStream:
        first_by = min(deadline, time.monotonic() + self.policy.first_token_timeout_s)
        if not inputs.get("stream"):
            # A whole answer is its first token: both limits apply to the one wait.
            return await _within(self.inner.run(model, inputs, options), first_by, "an answer")
        stream = await _within(self.inner.run(model, inputs, options), first_by, "a stream")
        if isinstance(stream, dict):
            return stream
        try:
            first = await _within(anext(stream), first_by, "the first token")
        except StopAsyncIteration:
            return _replay(b"", stream, deadline)
        except BaseException:
            await stream.aclose()
            raise
        return _replay(first, stream, deadline)


async def _replay(first: bytes, rest: SSEByteStream, deadline: float) -> SSEByteStream:
    watchdog: Watchdog | None = None
    try:
        if first:
            yield first
        # One timer for the whole stream, not one per chunk (llm_api/watchdog.py).
        watchdog = Watchdog(max(0.0, _left(deadline)), idle=False)
        while True:
            try:
                task = watchdog.start()
            except TimeoutError:
                raise _too_long("the whole answer") from None
            try:
                chunk = await anext(rest)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if watchdog.expired_on(task):
                    raise _too_long("the whole answer") from None
                raise
            finally:
                watchdog.stop()
            yield chunk
    finally:
        if watchdog is not None:
            watchdog.close()
        await rest.aclose()


async def _within(awaitable: Any, deadline: float, what: str) -> Any:
    # ``asyncio.timeout``, not ``wait_for``: on 3.11 ``wait_for`` wraps every awaitable
    # in a new task, once per streamed chunk here (bench/README.md, CPU per request).
    try:
        async with asyncio.timeout(max(0.0, _left(deadline))):
            return await awaitable
    except TimeoutError:
        raise _too_long(what) from None


class CallTimedOut(BackendTimeout):
    """One of our deadlines passed after the call was sent (a 504, retryable for the client,
    never re-sent here: the first attempt may still be running and billed upstream)."""


def _too_long(what: str) -> CallTimedOut:
    return CallTimedOut(f"the model backend took too long to produce {what}")


def _retry_wait(error: BackendError, attempt: int, first_backoff_s: float) -> float | None:
    if not error.retryable or isinstance(error, InvalidModelOutput | CallTimedOut):
        return None
    wait = first_backoff_s * (2**attempt)
    if error.retry_after is not None:
        wait = max(wait, error.retry_after)
    return wait if wait <= MAX_RETRY_WAIT_S else None


def _left(deadline: float) -> float:
    return deadline - time.monotonic()
