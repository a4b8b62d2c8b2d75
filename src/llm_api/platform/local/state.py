"""The local host's state — API keys, usage and stored responses — in one SQLite file
(CPython only).

The state folder defaults to ``./.state`` (already git-ignored), the way ``wrangler dev``
keeps a project's local KV and Durable Object data in ``./.wrangler/state``: a developer
finds it next to the project, and two checkouts never share keys. ``--state-dir`` or
``LLM_API_STATE_DIR`` choose another (``StateSettings`` in llm_api.settings).

The async methods run their SQL inline on the event loop rather than through
``asyncio.to_thread``: each is one indexed statement on a local file, a few tens of
microseconds in WAL mode with ``synchronous=NORMAL`` (commits do not fsync), which is
less than a thread hop costs. Inline calls also keep one connection on one thread and
make every method atomic with respect to other coroutines.

The folder is created 0700 and the database 0600: hashes are not keys, but usage and key
names are nobody else's business. SQLite gives its -wal/-shm files the database's mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

from llm_api.keys import KeyRecord, new_key
from llm_api.usage import DEFAULT_DAYS, UsageEntry, first_day, utc_day

STATE_FILE = "state.db"
DEV_KEY_NAME = "development"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rpm INTEGER,
    allowed_models TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
    key_id TEXT NOT NULL,
    day TEXT NOT NULL,
    requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    estimated_requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);
-- Stored Responses API objects (llm_api.platform.local.response_store); rowid order is
-- save order, which the per-key bound evicts by (the key_id index keeps it per key).
CREATE TABLE IF NOT EXISTS responses (
    key_id TEXT NOT NULL,
    response_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (key_id, response_id)
);
CREATE INDEX IF NOT EXISTS responses_by_key ON responses (key_id);
CREATE INDEX IF NOT EXISTS responses_by_age ON responses (created_at);
"""
#: Columns added since the first release, with their definitions: a database made by an
#: older version gets them on open (``ALTER TABLE ... ADD COLUMN``; old rows read 0).
_ADDED_COLUMNS = {"usage": {"estimated_requests": "INTEGER NOT NULL DEFAULT 0"}}


def state_db_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / STATE_FILE


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (creating if needed, privately) the state database and its tables."""
    db = Path(path)
    if not db.parent.exists():
        db.parent.mkdir(mode=0o700, parents=True)
        db.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    # Create the file 0600 before SQLite does, so it is never briefly world-readable; only
    # when absent: closing any descriptor of a file drops this process's POSIX locks on it,
    # SQLite's included, and then another process's last close deletes the WAL we still read.
    if not db.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(db, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    db.chmod(0o600)
    # isolation_level=None: autocommit; every method is a single statement.
    conn = sqlite3.connect(db, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # The CLI may write while the server runs; a writer waits briefly instead of failing.
    conn.execute("PRAGMA busy_timeout=2000")
    conn.executescript(_SCHEMA)
    _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    for table, columns in _ADDED_COLUMNS.items():
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


class _SqliteStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SqliteKeyStore(_SqliteStore):
    """:class:`llm_api.keys.KeyStore` in ``state.db``. Reads hit the file on every call,
    so keys created or revoked by ``llm-api keys`` apply to a running server at once."""

    async def get(self, key_id: str) -> KeyRecord | None:
        row = self.conn.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else _record(row)

    async def put(self, record: KeyRecord) -> None:
        models = record.allowed_models
        self.conn.execute(
            "INSERT OR REPLACE INTO api_keys"
            " (key_id, name, key_hash, created_at, rpm, allowed_models, revoked)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                record.name,
                record.key_hash,
                record.created_at,
                record.rpm,
                None if models is None else json.dumps(models),
                int(record.revoked),
            ),
        )

    async def list(self) -> list[KeyRecord]:
        found = self.conn.execute("SELECT * FROM api_keys ORDER BY created_at, key_id")
        return [_record(row) for row in found.fetchall()]

    async def revoke(self, key_id: str) -> bool:
        cursor = self.conn.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?", (key_id,))
        return cursor.rowcount > 0


class SqliteUsageStore(_SqliteStore):
    """:class:`llm_api.usage.UsageStore` in ``state.db``: one row per key and UTC day."""

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
        self.conn.execute(
            "INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens,"
            " cost_usd, estimated_requests) VALUES (?, ?, 1, ?, ?, ?, ?)"
            " ON CONFLICT(key_id, day) DO UPDATE SET"
            " requests = requests + 1,"
            " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = completion_tokens + excluded.completion_tokens,"
            " cost_usd = cost_usd + excluded.cost_usd,"
            " estimated_requests = estimated_requests + excluded.estimated_requests",
            (
                key_id,
                day,
                int(prompt_tokens),
                int(completion_tokens),
                float(cost_usd),
                int(estimated),
            ),
        )

    async def usage(
        self, key_id: str, *, days: int = DEFAULT_DAYS, today: str | None = None
    ) -> list[UsageEntry]:
        end = today or utc_day()
        found = self.conn.execute(
            "SELECT day, requests, prompt_tokens, completion_tokens, cost_usd,"
            " estimated_requests FROM usage"
            " WHERE key_id = ? AND day >= ? AND day <= ? ORDER BY day DESC",
            (key_id, first_day(days, end), end),
        )
        return [UsageEntry.from_dict(dict(row)) for row in found.fetchall()]


async def ensure_dev_key(store: SqliteKeyStore) -> str | None:
    """On a first start (no keys at all), create a development key and return it to print
    once; None when keys already exist (revoked ones included: revoking every key must
    not silently mint a new one)."""
    if await store.list():
        return None
    full_key, record = new_key(DEV_KEY_NAME)
    await store.put(record)
    return full_key


def _record(row: sqlite3.Row) -> KeyRecord:
    data = dict(row)
    if data["allowed_models"] is not None:
        data["allowed_models"] = json.loads(data["allowed_models"])
    return KeyRecord.from_dict(data)
