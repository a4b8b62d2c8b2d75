"""The local host's rate limiter: the sliding-window rule of ``llm_api.ratelimit``, in memory."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from llm_api.ratelimit import DEFAULT_WINDOW_S, Decision, admit, decide


class InProcessLimiter:
    """The local host's limiter: one log per key id, in memory.

    Atomic under asyncio without a lock: ``hit`` never awaits between reading a key's log
    and storing the new one. Logs are bounded by each key's limit; a key's log is dropped
    once it empties, so idle keys cost nothing. Each log is kept sorted and pruned in
    place, so a hit costs O(log n) however busy the key: re-sorting a copy of the whole
    log (as ``admit`` does) cost 6 ms per request at 1,000 requests per second.
    """

    def __init__(
        self,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._logs: dict[str, list[float]] = {}

    async def hit(self, key_id: str, limit: int, *, now: float | None = None) -> Decision:
        at = self._clock() if now is None else now
        log = self._logs.setdefault(key_id, [])
        if log and at < log[-1]:  # the clock (or a caller's `now`) went back: the general rule
            decision, kept = admit(log, at, limit, self.window_s)
            log[:] = sorted(kept)
        else:
            window_s = self.window_s
            del log[: bisect.bisect_left(log, True, key=lambda t: at - t < window_s)]
            decision = decide(log, at, limit, window_s)
        if not log:
            del self._logs[key_id]
        return decision

    def log(self, key_id: str) -> list[float]:
        """A copy of a key's admission log (for tests and diagnostics)."""
        return list(self._logs.get(key_id, ()))
