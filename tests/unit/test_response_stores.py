"""One contract, every ``ResponseStore``: in memory, the local host's SQLite, and the
Worker's per-key Durable Object (the real ``entry.RateLimiter`` under the fake runtime,
reached through the SDK's env wrapper and raw, as in tests/worker/test_state.py).

Each case runs against each store; the persistent ones also survive a re-open (a new
connection; an evicted object) and prune expired rows when they save.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llm_api.platform.local.response_store import SqliteResponseStore
from llm_api.platform.local.state import state_db_path
from llm_api.stored_responses import (
    MAX_RECORD_BYTES,
    MAX_RESPONSES_PER_KEY,
    RETENTION_S,
    MemoryResponseStore,
    ResponseStore,
)
from tests.support.workers_fake import installed
from tests.support.workers_fake.bindings import FakeDurableObjectNamespace, worker_env

A, B = "keyaaaaaaaaa", "keybbbbbbbbb"


@dataclass
class Harness:
    store: ResponseStore
    #: a new store over the same storage, or None where nothing outlives the store
    reopen: Callable[[], ResponseStore] | None = None
    #: rows physically kept for a key (expired ones included), where there is storage
    rows: Callable[[str], int] | None = None


def _memory(tmp_path: Path) -> Iterator[Harness]:
    yield Harness(MemoryResponseStore())


def _sqlite(tmp_path: Path) -> Iterator[Harness]:
    database = state_db_path(tmp_path / "state")
    opened: list[SqliteResponseStore] = []

    def open_store() -> SqliteResponseStore:
        opened.append(SqliteResponseStore(database))
        return opened[-1]

    def rows(key_id: str) -> int:
        query = "SELECT COUNT(*) FROM responses WHERE key_id = ?"
        return int(opened[-1].conn.execute(query, (key_id,)).fetchone()[0])

    yield Harness(open_store(), reopen=open_store, rows=rows)
    for store in opened:
        store.close()


def _durable_object(wrapped: bool) -> Callable[[Path], Iterator[Harness]]:
    def harness(tmp_path: Path) -> Iterator[Harness]:
        with installed() as runtime:
            entry = runtime.load_entry()
            state = importlib.import_module("llm_api.platform.workers.state")
            namespace = FakeDurableObjectNamespace(entry.RateLimiter)
            env = worker_env(RATE_LIMITER=namespace)
            if wrapped:
                from workers import _EnvWrapper

                env = _EnvWrapper(env)

            def reopen() -> ResponseStore:
                for name in list(namespace.instances):
                    namespace.evict(name)  # as workerd drops an idle object
                return state.bound_responses(env)

            def rows(key_id: str) -> int:
                if key_id not in namespace.storages:
                    return 0
                db = namespace.storages[key_id].sql.fake.db
                return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

            store = state.bound_responses(env)
            assert isinstance(store, state.DurableObjectResponseStore)
            yield Harness(store, reopen=reopen, rows=rows)

    return harness


STORES = {
    "memory": _memory,
    "sqlite": _sqlite,
    "durable-object": _durable_object(wrapped=True),
    "durable-object-raw": _durable_object(wrapped=False),
}
PERSISTENT = [name for name in STORES if name != "memory"]


@pytest.fixture(params=list(STORES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from STORES[request.param](tmp_path)


@pytest.fixture(params=PERSISTENT)
def persistent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from STORES[request.param](tmp_path)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def now() -> int:
    return int(time.time())


def test_a_key_never_reads_overwrites_or_deletes_another_keys_response(harness: Harness) -> None:
    async def scenario() -> None:
        store = harness.store
        await store.save(A, "resp_1", '{"owner": "a"}', created_at=now())
        assert await store.load(A, "resp_1") == '{"owner": "a"}'
        assert await store.load(B, "resp_1") is None
        assert await store.delete(B, "resp_1") is False
        await store.save(B, "resp_1", '{"owner": "b"}', created_at=now())  # the same id
        assert await store.load(A, "resp_1") == '{"owner": "a"}'
        assert await store.load(B, "resp_1") == '{"owner": "b"}'

    run(scenario())


def test_delete_says_whether_the_key_had_it(harness: Harness) -> None:
    async def scenario() -> None:
        store = harness.store
        await store.save(A, "resp_1", "{}", created_at=now())
        assert await store.delete(A, "resp_1") is True
        assert await store.load(A, "resp_1") is None
        assert await store.delete(A, "resp_1") is False  # gone already
        assert await store.delete(A, "resp_never") is False

    run(scenario())


def test_a_key_keeps_its_newest_1000_and_the_oldest_goes_first(harness: Harness) -> None:
    async def scenario() -> None:
        store, made = harness.store, now()
        await store.save(B, "resp_b", "{}", created_at=made)
        for n in range(MAX_RESPONSES_PER_KEY + 1):
            await store.save(A, f"resp_{n}", f'{{"n": {n}}}', created_at=made)
        assert await store.load(A, "resp_0") is None
        assert await store.load(A, "resp_1") == '{"n": 1}'
        assert await store.load(A, f"resp_{MAX_RESPONSES_PER_KEY}") is not None
        assert await store.load(B, "resp_b") == "{}"  # another key's bound is its own
        # Saving an id again makes it the newest: the next save drops resp_2, not it.
        await store.save(A, "resp_1", '{"n": "again"}', created_at=made)
        await store.save(A, "resp_next", "{}", created_at=made)
        assert await store.load(A, "resp_1") == '{"n": "again"}'
        assert await store.load(A, "resp_2") is None
        assert await store.load(A, "resp_3") == '{"n": 3}'
        if harness.rows is not None:
            assert harness.rows(A) == MAX_RESPONSES_PER_KEY

    run(scenario())


def test_a_response_expires_30_days_after_it_was_made(harness: Harness) -> None:
    async def scenario() -> None:
        store, made = harness.store, now()
        await store.save(A, "resp_nearly", "{}", created_at=made - RETENTION_S + 3600)
        # saved last, so no later save has pruned it: the read itself must refuse it
        await store.save(A, "resp_old", "{}", created_at=made - RETENTION_S - 1)
        assert await store.load(A, "resp_old") is None
        assert await store.delete(A, "resp_old") is False  # no longer the key's
        assert await store.load(A, "resp_nearly") == "{}"

    run(scenario())


def test_a_record_over_the_bound_is_refused_and_one_at_it_kept(harness: Harness) -> None:
    async def scenario() -> None:
        store = harness.store
        with pytest.raises(ValueError, match="at most"):
            await store.save(A, "resp_big", "x" * (MAX_RECORD_BYTES + 1), created_at=now())
        # UTF-8 bytes, not characters: 500,001 two-byte characters are over too
        with pytest.raises(ValueError, match="at most"):
            await store.save(A, "resp_wide", "é" * (MAX_RECORD_BYTES // 2 + 1), created_at=now())
        assert await store.load(A, "resp_big") is None
        largest = "x" * MAX_RECORD_BYTES
        await store.save(A, "resp_max", largest, created_at=now())
        assert await store.load(A, "resp_max") == largest

    run(scenario())


def test_stored_responses_survive_a_reopen(persistent: Harness) -> None:
    async def scenario() -> None:
        await persistent.store.save(A, "resp_1", '{"kept": true}', created_at=now())
        assert persistent.reopen is not None
        reopened = persistent.reopen()
        assert await reopened.load(A, "resp_1") == '{"kept": true}'
        assert await reopened.load(B, "resp_1") is None
        # the bound holds across the re-open too (the object recounts its rows)
        for n in range(MAX_RESPONSES_PER_KEY):
            await reopened.save(A, f"resp_more_{n}", "{}", created_at=now())
        assert await reopened.load(A, "resp_1") is None
        assert await persistent.reopen().load(A, "resp_more_0") == "{}"

    run(scenario())


def test_a_save_removes_the_keys_expired_rows(persistent: Harness) -> None:
    async def scenario() -> None:
        store, made = persistent.store, now()
        for n in range(3):
            await store.save(A, f"resp_old_{n}", "{}", created_at=made - RETENTION_S - n)
        assert persistent.rows is not None
        await store.save(A, "resp_new", "{}", created_at=made)
        assert persistent.rows(A) == 1

    run(scenario())
