"""How long one isolate trusts its copy of the live model list.

Per-isolate memory only (a Worker isolate lives minutes to hours; the CPython host is one
process). The list changes a few times a month, so five minutes is fresh enough to notice a
new model or a planned deprecation the same day, while a busy isolate lists models at most 12
times an hour. A failed listing keeps the last good copy (the table if there is none) and is
retried after ``retry_s``, so a broken token or an outage costs one listing call per half
minute, not one per request. Sharing the copy between isolates (KV) is later wiring.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from llm_api.catalog.live import LiveModel

LIVE_TTL_S = 300.0
RETRY_S = 30.0


class LiveCatalogCache:
    def __init__(
        self,
        ttl_s: float = LIVE_TTL_S,
        *,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or retry_s <= 0:
            raise ValueError("ttl_s and retry_s must be positive")
        self.ttl_s = ttl_s
        self.retry_s = retry_s
        self._clock = clock
        self.entries: tuple[LiveModel, ...] | None = None
        #: counts successful loads, so a catalog can tell a new copy from the one it has
        self.generation = 0
        self.last_error: str | None = None
        self._next_at: float | None = None  # None: never loaded, due now
        self._loading = False

    def due(self) -> bool:
        return not self._loading and (self._next_at is None or self._clock() >= self._next_at)

    def fresh(self) -> bool:
        return self.entries is not None and not self.due()

    def put(self, entries: Sequence[LiveModel]) -> None:
        self.entries = tuple(entries)
        self.generation += 1
        self.last_error = None
        self._next_at = self._clock() + self.ttl_s

    def failed(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        self._next_at = self._clock() + self.retry_s

    async def refresh(
        self, load: Callable[[], Awaitable[Sequence[LiveModel]]]
    ) -> tuple[LiveModel, ...] | None:
        """The entries, loaded first when due. One load at a time: a request arriving while
        another loads gets the current copy instead of waiting or loading again."""
        if self.due():
            self._loading = True
            try:
                self.put(await load())
            except Exception as exc:  # the listing is an optimisation: any failure keeps the copy
                self.failed(exc)
            finally:
                self._loading = False
        return self.entries
