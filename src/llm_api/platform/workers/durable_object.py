"""The logic of the per-key Durable Object: rate-limit window, usage and stored
responses, in its SQLite.

``src/entry.py``'s ``class RateLimiter(DurableObject)`` (one object per key, named by
the key id) delegates here, passing ``self.ctx.storage``. This module only needs
``storage.sql.exec(sql, *bindings)``, synchronous, returning a cursor with
``toArray()``, ``one()`` or iteration — so tests drive it with a fake backed by
Python's sqlite3, and nothing here imports ``js`` or ``workers``.

Assumption about real rows: through the Python Workers SDK, ``toArray()`` arrives as a
Python list of dicts (the SDK ``to_py()``s RPC results), but a raw ``JsProxy`` array or
rows of JS objects may also appear depending on SDK version; :func:`rows` accepts all
of these, so the adapter in ``entry.py`` can pass ``ctx.storage`` straight through.

Times are integer milliseconds (``Date.now()``), stored as INTEGER. The pure algorithm
(``ratelimit.decide``) runs on them with a 60,000 ms window, so the 60 s boundary is
decided exactly, not up to float rounding of epoch seconds; only the answer's two
durations become seconds.

Each object is single-threaded and nothing here awaits, so a hit's check-and-insert is
atomic. The window is also cached in memory (the object stays alive between requests),
so a hit reads no rows after the first and writes only what changes.

Stored responses (``llm_api.stored_responses``) get their table on first use, so an object
created before they existed gains it, and a key that never stores one has none. The
object is the key, so no row names it. Like the window, the number of rows is cached: a
save reads the count once per object life, then only the rows it touches.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from llm_api.ratelimit import DEFAULT_WINDOW_S, decide
from llm_api.stored_responses import MAX_RESPONSES_PER_KEY, RETENTION_S, check_record, expired
from llm_api.usage import DEFAULT_DAYS, UsageEntry, first_day, utc_day

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS admissions (at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS usage ("
    " day TEXT PRIMARY KEY,"
    " requests INTEGER NOT NULL,"
    " prompt_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL,"
    " cost_usd REAL NOT NULL,"
    " estimated_requests INTEGER NOT NULL DEFAULT 0)",
)
#: added after the first deploy: an object created before gets it on first use
_ADDED_USAGE_COLUMN = "estimated_requests INTEGER NOT NULL DEFAULT 0"
#: rowid order is save order: the bound evicts the lowest rowids
_RESPONSES_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses ("
    " response_id TEXT PRIMARY KEY,"
    " created_at INTEGER NOT NULL,"
    " record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS responses_by_age ON responses (created_at)",
)


class RateLimiterState:
    def __init__(
        self,
        storage: Any,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        responses_per_key: int = MAX_RESPONSES_PER_KEY,
    ) -> None:
        self._sql = storage.sql
        self._window_ms = round(window_s * 1000)
        self._per_key = responses_per_key
        self._ready = False
        self._responses_ready = False
        self._log: list[int] | None = None  # admission times (ms), oldest first
        self._stored: int | None = None  # rows in responses; None: not yet (or re-)counted

    def hit(self, limit: int, now_ms: float | None = None) -> dict[str, Any]:
        """Admit or reject one request at ``now_ms``; return the ``Decision`` as a dict.

        The log stays sorted (times only grow: one that stepped back counts as the latest),
        so what expired is found by bisection and nothing is sorted or copied per hit: a key
        allowed 100,000 a minute once cost 0.7 ms of CPU per hit under Pyodide sorting its log.
        """
        log = self._load_log()
        now = _now_ms() if now_ms is None else int(now_ms)
        if log and now < log[-1]:
            now = log[-1]
        cutoff = now - self._window_ms
        stale = bisect_right(log, cutoff)
        limit = int(limit)
        # Storage first, memory after: if a write throws, the cache still matches the table.
        if stale:
            self._exec("DELETE FROM admissions WHERE at <= ?", cutoff)
            del log[:stale]
        if len(log) < limit:
            self._exec("INSERT INTO admissions (at) VALUES (?)", now)
        # integer ms throughout (exact at the boundary), seconds only in the answer
        decision = decide(log, now, limit, self._window_ms)
        return {
            **decision.to_dict(),
            "reset_after_s": decision.reset_after_s / 1000,
            "retry_after_s": decision.retry_after_s / 1000,
        }

    def record_usage(
        self,
        day: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool = False,
    ) -> None:
        """Count one answered request into ``day`` (``YYYY-MM-DD``, UTC); ``estimated``
        when its tokens are (partly) an estimate (``llm_api.usage``)."""
        self._ensure_schema()
        self._exec(
            "INSERT INTO usage (day, requests, prompt_tokens, completion_tokens, cost_usd,"
            " estimated_requests) VALUES (?, 1, ?, ?, ?, ?)"
            " ON CONFLICT(day) DO UPDATE SET"
            " requests = requests + 1,"
            " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = completion_tokens + excluded.completion_tokens,"
            " cost_usd = cost_usd + excluded.cost_usd,"
            " estimated_requests = estimated_requests + excluded.estimated_requests",
            day,
            int(prompt_tokens),
            int(completion_tokens),
            float(cost_usd),
            int(bool(estimated)),
        )

    def usage(self, days: int = DEFAULT_DAYS, today: str | None = None) -> list[dict[str, Any]]:
        """The last ``days`` UTC days up to ``today`` (default: now), newest first."""
        self._ensure_schema()
        end = today or utc_day()
        found = rows(
            self._exec(
                "SELECT day, requests, prompt_tokens, completion_tokens, cost_usd,"
                " estimated_requests FROM usage WHERE day >= ? AND day <= ? ORDER BY day DESC",
                first_day(days, end),
                end,
            )
        )
        return [UsageEntry.from_dict(row).to_dict() for row in found]

    def save_response(self, response_id: str, record: str, created_at: int) -> None:
        """Keep ``record`` (the key's newest), dropping expired rows and the oldest beyond
        the bound. No awaits: the object commits the statements together."""
        check_record(record)  # the caller checked; the storage's own bound all the same
        stored = self._count_responses()
        self._stored = None  # until every statement has run: a failure recounts
        stored -= len(rows(self._exec(_PRUNE, int(time.time()) - RETENTION_S)))
        # Deleted, then inserted, so a re-saved id gets a new rowid: it becomes the newest.
        stored -= len(rows(self._exec(_FORGET, str(response_id))))
        self._exec(
            "INSERT INTO responses (response_id, created_at, record) VALUES (?, ?, ?)",
            str(response_id),
            int(created_at),
            str(record),
        )
        stored += 1
        if stored > self._per_key:
            self._exec(
                "DELETE FROM responses WHERE rowid IN"
                " (SELECT rowid FROM responses ORDER BY rowid LIMIT ?)",
                stored - self._per_key,
            )
            stored = self._per_key
        self._stored = stored

    def load_response(self, response_id: str) -> str | None:
        """The record, or None when unknown or expired."""
        self._ensure_responses_schema()
        found = rows(
            self._exec(
                "SELECT record FROM responses WHERE response_id = ? AND created_at > ?",
                str(response_id),
                int(time.time()) - RETENTION_S,
            )
        )
        return str(found[0]["record"]) if found else None

    def delete_response(self, response_id: str) -> bool:
        """True when the object had it unexpired; an expired row goes too."""
        stored = self._count_responses()
        found = rows(self._exec(_FORGET, str(response_id)))
        self._stored = stored - len(found)
        return bool(found) and not expired(int(found[0]["created_at"]))

    def _count_responses(self) -> int:
        self._ensure_responses_schema()
        if self._stored is None:
            [row] = rows(self._exec("SELECT COUNT(*) AS n FROM responses"))
            self._stored = int(row["n"])
        return self._stored

    def _ensure_responses_schema(self) -> None:
        if not self._responses_ready:
            for statement in _RESPONSES_SCHEMA:
                self._exec(statement)
            self._responses_ready = True

    def _load_log(self) -> list[int]:
        if self._log is None:
            self._ensure_schema()
            found = rows(self._exec("SELECT at FROM admissions ORDER BY at"))
            self._log = [int(row["at"]) for row in found]
        return self._log

    def _ensure_schema(self) -> None:
        if not self._ready:
            for statement in _SCHEMA:
                self._exec(statement)
            columns = {row["name"] for row in rows(self._exec("PRAGMA table_info(usage)"))}
            if "estimated_requests" not in columns:
                self._exec(f"ALTER TABLE usage ADD COLUMN {_ADDED_USAGE_COLUMN}")
            self._ready = True

    def _exec(self, sql: str, *bindings: Any) -> Any:
        return self._sql.exec(sql, *bindings)


_PRUNE = "DELETE FROM responses WHERE created_at <= ? RETURNING response_id"
_FORGET = "DELETE FROM responses WHERE response_id = ? RETURNING created_at"


def rows(cursor: Any) -> list[dict[str, Any]]:
    """A cursor's rows as dicts, whatever shape the runtime hands them in."""
    found = cursor.toArray() if hasattr(cursor, "toArray") else cursor
    if hasattr(found, "to_py"):
        found = found.to_py()
    return [_row(row) for row in _iterate(found)]


def _iterate(found: Any) -> Iterable[Any]:
    return found if isinstance(found, list) else list(found)


def _row(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    if hasattr(row, "to_py"):
        return dict(row.to_py())
    return dict(row)


def _now_ms() -> int:
    # On Workers time.time() is Date.now(): whole ms, frozen while code runs without I/O.
    return int(time.time() * 1000)
