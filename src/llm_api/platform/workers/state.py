"""The Worker's state: API keys in KV; rate limits, usage and stored responses in one
Durable Object per key.

Worker path only (through ``platform.workers_ffi`` it needs ``js``/``pyodide``). The
bindings are declared in wrangler.toml:

* ``API_KEYS`` (KV): one JSON record per key under ``key:<key_id>`` (``KeyRecord.to_dict``:
  the SHA-256 of the key, never the key). KV suits records that are read on every
  request and written rarely. It is eventually consistent: a write is visible at once
  where it was made, but other locations may serve their cached copy for up to about
  60 seconds — so a revoked key can still be accepted elsewhere for up to a minute
  after the revoke, and a new key can be refused for as long where a lookup of it was
  cached as a miss just before. Each isolate also keeps a key it found for
  ``KEY_CACHE_TTL_S`` (5 s; misses are not kept): a KV read per request costs the Worker
  CPU under Pyodide (bench/README.md §4). A revoke is seen at once by the isolate that
  made it; other isolates may accept the key for those 5 s more (~65 s elsewhere).
* ``RATE_LIMITER`` (Durable Object namespace, class ``entry.RateLimiter``): one object
  per key id, holding that key's sliding window, daily usage and stored Responses API
  objects in its SQLite (``llm_api.platform.workers.durable_object``). An object is
  single-threaded, so check-and-count is exact and atomic across every location — which
  KV, or the approximate ``[[ratelimits]]`` binding, could not give — and a key's stored
  responses are strongly consistent and out of every other key's reach.

Without a binding the Worker fails closed: no ``API_KEYS`` means no key is valid (every
``/api`` and ``/v1`` request is 401, and the admin API answers 503 saying what is
missing); no ``RATE_LIMITER`` means every authenticated request is refused with a 503,
never served unlimited — and the response store refuses the same way rather than keep
responses in one isolate's memory, where another isolate would not find them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, NoReturn

from llm_api.errors import BackendError
from llm_api.keys import KeyRecord, KeyStore
from llm_api.platform.workers.ffi import JsException, js_object, jsnull, to_py
from llm_api.ratelimit import Decision, Limiter
from llm_api.stored_responses import ResponseStore, check_record
from llm_api.usage import DEFAULT_DAYS, UsageEntry, UsageStore

KEYS_BINDING = "API_KEYS"
LIMITER_BINDING = "RATE_LIMITER"
KEY_PREFIX = "key:"
#: how long an isolate trusts a key record it read (found ones only), and how many it keeps
KEY_CACHE_TTL_S = 5.0
KEY_CACHE_MAX = 1000

logger = logging.getLogger("llm_api.workers")


def bound_state(env: Any) -> tuple[KeyStore, Limiter, UsageStore]:
    """The key store, limiter and usage store of a Worker ``env`` (failing closed)."""
    kv = _binding(env, KEYS_BINDING)
    if kv is None:
        logger.warning("%s is not bound: every /api and /v1 request is refused", KEYS_BINDING)
        keys: KeyStore = UnboundKeyStore()
    else:
        keys = KVKeyStore(kv)
    namespace = _binding(env, LIMITER_BINDING)
    if namespace is None:
        logger.warning("%s is not bound: every keyed request is refused", LIMITER_BINDING)
        counters = UnboundCounters()
        return keys, counters, counters
    return keys, DurableObjectLimiter(namespace), DurableObjectUsageStore(namespace)


def bound_responses(env: Any) -> ResponseStore:
    """The response store of a Worker ``env``: the key's Durable Object (failing closed)."""
    namespace = _binding(env, LIMITER_BINDING)
    if namespace is None:
        return UnboundResponseStore()  # bound_state has warned
    return DurableObjectResponseStore(namespace)


def _binding(env: Any, name: str) -> Any:
    value = getattr(env, name, None)
    return None if value is None or value is jsnull else value


# --- API keys in KV ----------------------------------------------------------------------


class KVKeyStore:
    """A :class:`KeyStore` over a KV namespace (eventually consistent: see the module doc).

    ``list`` reads each record after listing the names: fine for an admin listing, but
    KV allows 1,000 operations per request, so it is not meant for thousands of keys.

    ``get`` keeps each record it finds for ``ttl_s`` (at most ``max_entries`` of them, the
    oldest dropped first); a miss is never kept, so a new key works as soon as KV has it,
    and ``put`` (a revoke too) drops this isolate's copy. Records are never mutated here.
    """

    def __init__(
        self,
        kv: Any,
        *,
        ttl_s: float = KEY_CACHE_TTL_S,
        max_entries: int = KEY_CACHE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._found: dict[str, tuple[float, KeyRecord]] = {}  # key id -> (until, record)

    async def get(self, key_id: str) -> KeyRecord | None:
        kept = self._found.get(key_id)
        if kept is not None and self._clock() < kept[0]:
            return kept[1]
        record = await self._read(key_id)
        self._found.pop(key_id, None)  # re-inserted last: the oldest entries come first
        if record is not None and self._ttl_s > 0:
            while len(self._found) >= self._max_entries:
                del self._found[next(iter(self._found))]
            self._found[key_id] = (self._clock() + self._ttl_s, record)
        return record

    async def _read(self, key_id: str) -> KeyRecord | None:
        with _unavailable("the API key store"):
            text = to_py(await self._kv.get(KEY_PREFIX + key_id))
        return None if text is None else KeyRecord.from_dict(json.loads(text))

    async def put(self, record: KeyRecord) -> None:
        text = json.dumps(record.to_dict(), separators=(",", ":"))
        self._found.pop(record.key_id, None)  # a failed write leaves no stale copy either
        try:
            with _unavailable("the API key store"):
                await self._kv.put(KEY_PREFIX + record.key_id, text)
        finally:  # and a get that read the old record meanwhile keeps none
            self._found.pop(record.key_id, None)

    async def list(self) -> list[KeyRecord]:
        # read afresh: the admin listing shows what KV holds, not this isolate's copies
        found = await asyncio.gather(*(self._read(key_id) for key_id in await self._key_ids()))
        records = [record for record in found if record is not None]  # deleted meanwhile
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    async def revoke(self, key_id: str) -> bool:
        # Seen at once here; other isolates may accept the key for up to ~65 s more.
        record = await self._read(key_id)
        if record is None:
            return False
        if not record.revoked:
            await self.put(replace(record, revoked=True))  # a copy: others may hold this one
        return True

    async def _key_ids(self) -> list[str]:
        key_ids: list[str] = []
        cursor: str | None = None
        while True:
            options = {"prefix": KEY_PREFIX}
            if cursor:
                options["cursor"] = cursor
            with _unavailable("the API key store"):
                page = to_py(await self._kv.list(js_object(options))) or {}
            key_ids += [entry["name"].removeprefix(KEY_PREFIX) for entry in page.get("keys") or ()]
            cursor = page.get("cursor")
            if page.get("list_complete", True) or not cursor:
                return key_ids


class UnboundKeyStore:
    """The key store of a Worker without ``API_KEYS``: it knows no key (fail closed)."""

    async def get(self, key_id: str) -> KeyRecord | None:
        return None

    async def put(self, record: KeyRecord) -> None:
        _unbound(KEYS_BINDING)

    async def list(self) -> list[KeyRecord]:
        _unbound(KEYS_BINDING)

    async def revoke(self, key_id: str) -> bool:
        _unbound(KEYS_BINDING)


# --- rate limits and usage in the key's Durable Object -----------------------------------


def _stub(namespace: Any, key_id: str) -> Any:
    """The stub of the key's object: ``getByName``, or its two-step form on older runtimes.

    Tried rather than looked up: the SDK's namespace wrapper has a ``getByName`` of its
    own, which fails with AttributeError only when called, on a runtime without one.
    """
    try:
        return namespace.getByName(key_id)
    except AttributeError:
        return namespace.get(namespace.idFromName(key_id))


class DurableObjectLimiter:
    """A ``ratelimit.Limiter`` that asks the key's object (``entry.RateLimiter.hit``)."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    async def hit(self, key_id: str, limit: int) -> Decision:
        with _unavailable("the rate limiter"):
            result = await _stub(self._namespace, key_id).hit(int(limit))
        return Decision.from_dict(to_py(result))


class DurableObjectUsageStore:
    """A :class:`UsageStore` kept by the key's object, next to its rate-limit window."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    async def record(
        self,
        key_id: str,
        *,
        day: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool = False,
    ) -> None:
        with _unavailable("the usage store"):
            stub = _stub(self._namespace, key_id)
            await stub.record_usage(
                day, int(prompt_tokens), int(completion_tokens), cost_usd, bool(estimated)
            )

    async def usage(
        self, key_id: str, *, days: int = DEFAULT_DAYS, today: str | None = None
    ) -> list[UsageEntry]:
        with _unavailable("the usage store"):
            stub = _stub(self._namespace, key_id)
            found = await (stub.usage(days) if today is None else stub.usage(days, today))
        return [UsageEntry.from_dict(entry) for entry in to_py(found) or ()]


class UnboundCounters:
    """Limiter and usage store of a Worker without ``RATE_LIMITER``: refuses (fail closed)."""

    async def hit(self, key_id: str, limit: int) -> Decision:
        _unbound(LIMITER_BINDING)

    async def record(self, key_id: str, **_: Any) -> None:
        _unbound(LIMITER_BINDING)

    async def usage(self, key_id: str, **_: Any) -> list[UsageEntry]:
        _unbound(LIMITER_BINDING)


class DurableObjectResponseStore:
    """A :class:`ResponseStore` kept by the key's object: the object is the key, so no
    key can reach another's rows. Arguments cross as strings and an int, results as a
    string, null or a boolean."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    async def save(self, key_id: str, response_id: str, record: str, *, created_at: int) -> None:
        check_record(record)  # here, so an oversized record never crosses the RPC
        with _unavailable("the response store"):
            stub = _stub(self._namespace, key_id)
            await stub.save_response(str(response_id), str(record), int(created_at))

    async def load(self, key_id: str, response_id: str) -> str | None:
        with _unavailable("the response store"):
            found = to_py(await _stub(self._namespace, key_id).load_response(str(response_id)))
        return None if found is None else str(found)

    async def delete(self, key_id: str, response_id: str) -> bool:
        with _unavailable("the response store"):
            found = await _stub(self._namespace, key_id).delete_response(str(response_id))
        return bool(to_py(found))


class UnboundResponseStore:
    """The response store of a Worker without ``RATE_LIMITER``: refuses (fail closed)."""

    async def save(self, key_id: str, response_id: str, record: str, *, created_at: int) -> None:
        _unbound(LIMITER_BINDING)

    async def load(self, key_id: str, response_id: str) -> str | None:
        _unbound(LIMITER_BINDING)

    async def delete(self, key_id: str, response_id: str) -> bool:
        _unbound(LIMITER_BINDING)


# --- errors --------------------------------------------------------------------------------


_KINDS = {KEYS_BINDING: "KV namespace", LIMITER_BINDING: "Durable Object"}


def _unbound(name: str) -> NoReturn:
    # 503, not retryable: retrying cannot help until the Worker is redeployed with it.
    raise BackendError(
        f"the {name} {_KINDS[name]} is not bound to this Worker (see wrangler.toml)", status=503
    )


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    """A JS error from KV or a Durable Object becomes a retryable 503 (details logged only)."""
    try:
        yield
    except JsException as exc:
        logger.warning("%s failed: %s", what, exc)
        raise BackendError(
            f"{what} is unavailable; retry shortly", status=503, retryable=True, retry_after=1.0
        ) from exc
