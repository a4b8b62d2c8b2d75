from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from llm_api.keys import KeyRecord, new_key, verify
from llm_api.platform.local.state import (
    DEV_KEY_NAME,
    SqliteKeyStore,
    SqliteUsageStore,
    ensure_dev_key,
    state_db_path,
)
from llm_api.usage import UsageEntry


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_and_database_are_private(tmp_path: Path) -> None:
    db = state_db_path(tmp_path / "state" / "nested")
    store = SqliteKeyStore(db)
    asyncio.run(store.put(new_key("app")[1]))
    assert db.name == "state.db"
    assert _mode(db.parent) == 0o700
    # The database and SQLite's -wal/-shm companions alike.
    files = list(db.parent.iterdir())
    assert db in files
    assert all(_mode(f) == 0o600 for f in files), {f.name: oct(_mode(f)) for f in files}
    store.close()


def test_loose_database_permissions_are_tightened(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    store = SqliteUsageStore(db)
    asyncio.run(store.usage("k", today="2025-01-01"))
    store.close()
    assert _mode(db) == 0o600


def test_keys_persist_across_instances(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    full_key, record = new_key(
        "app", rpm=7, allowed_models=["llama-3.2-3b-instruct"], created_at="2025-01-01T00:00:00Z"
    )
    _, other = new_key("other", created_at="2025-01-02T00:00:00Z")

    async def write() -> None:
        store = SqliteKeyStore(db)
        await store.put(other)
        await store.put(record)
        store.close()

    async def read() -> None:
        store = SqliteKeyStore(db)
        assert await store.get(record.key_id) == record
        assert verify(full_key, await store.get(record.key_id))
        assert await store.get("nosuchkey000") is None
        assert [r.key_id for r in await store.list()] == [record.key_id, other.key_id]
        store.close()

    asyncio.run(write())
    asyncio.run(read())
    assert full_key.encode() not in db.read_bytes()


def test_revoke_is_seen_by_another_open_store(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    full_key, record = new_key("app")

    async def scenario() -> None:
        server, cli = SqliteKeyStore(db), SqliteKeyStore(db)
        await server.put(record)
        assert verify(full_key, await server.get(record.key_id))
        assert await cli.revoke(record.key_id)
        assert await cli.revoke(record.key_id)
        assert not await cli.revoke("nosuchkey000")
        assert not verify(full_key, await server.get(record.key_id))
        server.close()
        cli.close()

    asyncio.run(scenario())


#: what `llm-api keys create` does to the file, in another process: one insert, then close
#: (SQLite's last close checkpoints the WAL and deletes it, if no other process holds a lock)
_OTHER_PROCESS_PUT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("INSERT INTO api_keys (key_id, name, key_hash, created_at) VALUES (?, ?, ?, ?)",
             sys.argv[2:6])
conn.close()
"""


def test_a_key_created_by_another_process_is_seen_after_the_server_opened_both_stores(
    tmp_path: Path,
) -> None:
    """Found by the client suite (issue 15): keys made by `llm-api keys create` stopped
    working on a running server. Opening the second store re-opened and closed the file
    with ``os.open``, which dropped this process's POSIX locks on it; the CLI's close then
    saw no other user and deleted the WAL the server still used: the server stopped seeing
    new keys (and revocations), and what it wrote went to a deleted file."""
    db = tmp_path / "state.db"
    keys, usage = SqliteKeyStore(db), SqliteUsageStore(db)
    _, first = new_key("first")

    def other_process_creates_a_key() -> KeyRecord:
        _, created = new_key("created")
        fields = [created.key_id, created.name, created.key_hash, created.created_at]
        subprocess.run([sys.executable, "-c", _OTHER_PROCESS_PUT, str(db), *fields], check=True)
        return created

    async def serve_requests(key_id: str) -> None:
        assert await keys.get(key_id) is not None
        await usage.record(key_id, day="2026-01-01", prompt_tokens=1, completion_tokens=1,
                           cost_usd=0.0)  # fmt: skip
        await keys.put(new_key("by the admin API")[1])

    asyncio.run(keys.put(first))
    asyncio.run(serve_requests(first.key_id))  # the usage store opens its own connection
    for _ in range(3):
        created = other_process_creates_a_key()
        assert asyncio.run(keys.get(created.key_id)) == created
        asyncio.run(serve_requests(created.key_id))
    assert (tmp_path / "state.db-wal").exists()
    keys.close()
    usage.close()
    reopened = SqliteUsageStore(db)  # what the server wrote is in the file
    assert len(asyncio.run(reopened.usage(first.key_id, today="2026-01-01"))) == 1
    reopened.close()


def test_put_replaces_a_record(tmp_path: Path) -> None:
    store = SqliteKeyStore(tmp_path / "state.db")
    _, record = new_key("app")

    async def scenario() -> None:
        await store.put(record)
        record.rpm = 3
        record.allowed_models = None
        await store.put(record)
        assert await store.get(record.key_id) == record
        assert len(await store.list()) == 1

    asyncio.run(scenario())
    store.close()


def test_usage_aggregates_per_day_newest_first(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    async def write() -> None:
        store = SqliteUsageStore(db)
        await store.record(
            "k1", day="2025-03-01", prompt_tokens=10, completion_tokens=5, cost_usd=0.5
        )
        await store.record(
            "k1", day="2025-03-01", prompt_tokens=1, completion_tokens=2, cost_usd=0.25
        )
        await store.record(
            "k1", day="2025-03-03", prompt_tokens=7, completion_tokens=0, cost_usd=0.0
        )
        await store.record(
            "k2", day="2025-03-01", prompt_tokens=99, completion_tokens=99, cost_usd=9
        )
        store.close()

    async def read() -> None:
        store = SqliteUsageStore(db)
        assert await store.usage("k1", today="2025-03-03") == [
            UsageEntry("2025-03-03", 1, 7, 0, 0.0),
            UsageEntry("2025-03-01", 2, 11, 7, 0.75),
        ]
        assert await store.usage("k2", today="2025-03-03") == [
            UsageEntry("2025-03-01", 1, 99, 99, 9.0)
        ]
        assert await store.usage("k3", today="2025-03-03") == []
        store.close()

    asyncio.run(write())
    asyncio.run(read())


def test_usage_window_counts_calendar_days_up_to_today(tmp_path: Path) -> None:
    store = SqliteUsageStore(tmp_path / "state.db")

    async def scenario() -> None:
        for day in ("2025-02-27", "2025-02-28", "2025-03-01", "2025-03-02"):
            await store.record("k", day=day, prompt_tokens=1, completion_tokens=1, cost_usd=0.0)
        days = [e.day for e in await store.usage("k", days=2, today="2025-03-01")]
        assert days == ["2025-03-01", "2025-02-28"]
        days = [e.day for e in await store.usage("k", days=30, today="2025-03-02")]
        assert days == ["2025-03-02", "2025-03-01", "2025-02-28", "2025-02-27"]
        assert await store.usage("k", days=1, today="2025-03-05") == []

    asyncio.run(scenario())
    store.close()


def test_dev_key_is_created_once(tmp_path: Path) -> None:
    store = SqliteKeyStore(tmp_path / "state.db")

    async def scenario() -> None:
        key = await ensure_dev_key(store)
        assert key is not None
        [record] = await store.list()
        assert record.name == DEV_KEY_NAME
        assert verify(key, record)
        assert await ensure_dev_key(store) is None
        await store.revoke(record.key_id)
        assert await ensure_dev_key(store) is None  # revoking all keys does not mint one

    asyncio.run(scenario())
    store.close()


def test_a_usage_table_from_before_estimates_is_migrated_in_place(tmp_path: Path) -> None:
    # issue 12, finding 9: usage now says how many requests were estimated; a state.db
    # written by an older version gains the column on open, its rows reading 0.
    db = tmp_path / "state.db"
    old = sqlite3.connect(db)
    old.executescript(
        "CREATE TABLE usage (key_id TEXT NOT NULL, day TEXT NOT NULL, requests INTEGER NOT NULL,"
        " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
        " cost_usd REAL NOT NULL, PRIMARY KEY (key_id, day));"
        "INSERT INTO usage VALUES ('k', '2025-03-01', 2, 10, 4, 0.5);"
    )
    old.close()
    store = SqliteUsageStore(db)

    async def scenario() -> None:
        assert await store.usage("k", today="2025-03-01") == [
            UsageEntry("2025-03-01", 2, 10, 4, 0.5, estimated_requests=0)
        ]
        await store.record(
            "k",
            day="2025-03-01",
            prompt_tokens=1,
            completion_tokens=1,
            cost_usd=0.0,
            estimated=True,
        )
        assert await store.usage("k", today="2025-03-01") == [
            UsageEntry("2025-03-01", 3, 11, 5, 0.5, estimated_requests=1)
        ]

    asyncio.run(scenario())
    store.close()
    SqliteUsageStore(db).close()  # opening a migrated database again changes nothing
