"""The live model list shared by a Worker's isolates through KV (``API_KEYS``, key
``catalog:v1``), so a new isolate reads one KV value instead of listing every page again.

The value is ``{"expires_at": <unix seconds>, "entries": [<raw listing entries>]}``, written
with KV's own ``expirationTtl`` as well. It is an optimisation: an unreadable, oversized or
expired value, or a KV failure, means the listing is fetched from ``env.AI.models()``; a failed
write is ignored. Entries are parsed (and bounded) by ``catalog.live`` like a fresh listing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from llm_api.catalog.cache import LIVE_TTL_S
from llm_api.catalog.source import ListModels
from llm_api.platform.workers.ffi import JsException, js_object, to_py

CATALOG_KEY = "catalog:v1"
#: the largest KV value read (a listing of 2,000 entries is well under this)
MAX_KV_CHARS = 4_000_000
MIN_KV_TTL_S = 60  # KV refuses a shorter expirationTtl


class KVSharedListing:
    """``ListModels`` that tries KV first and stores what it fetched there."""

    def __init__(
        self,
        kv: Any,
        fetch: ListModels,
        *,
        ttl_s: float = LIVE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kv, self._fetch, self._ttl_s, self._clock = kv, fetch, ttl_s, clock

    async def __call__(self) -> list[Any]:
        cached = await self._read()
        if cached is not None:
            return cached
        entries = await self._fetch()
        await self._write(entries)
        return entries

    async def _read(self) -> list[Any] | None:
        try:
            text = to_py(await self._kv.get(CATALOG_KEY))
        except JsException:
            return None
        if not isinstance(text, str) or len(text) > MAX_KV_CHARS:
            return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict) or not isinstance(value.get("entries"), list):
            return None
        expires = value.get("expires_at")
        if not isinstance(expires, int | float) or expires <= self._clock():
            return None
        return value["entries"]

    async def _write(self, entries: list[Any]) -> None:
        ttl = max(MIN_KV_TTL_S, int(self._ttl_s))
        text = json.dumps({"expires_at": self._clock() + ttl, "entries": entries})
        if len(text) > MAX_KV_CHARS:
            return
        try:
            await self._kv.put(CATALOG_KEY, text, js_object({"expirationTtl": ttl}))
        except JsException:
            pass  # the next isolate lists the models itself
