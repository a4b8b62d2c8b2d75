"""Stored Responses API objects in the local state database (CPython only).

The ``responses`` table lives in ``state.db`` next to keys and usage (its schema is in
``llm_api.platform.local.state``, created on open, so an older database gains it). Like the
other local stores, every method runs its SQL inline on the event loop: one short
transaction on a local file in WAL mode without fsync (README, "Stored responses", has the
measured cost), which keeps one connection on one thread and each call atomic with respect
to other coroutines.

Bounds (``llm_api.stored_responses``): a save prunes every key's expired rows (an indexed
range, empty almost always) and the key's oldest beyond ``per_key``; a load or delete never
sees an expired row, so expiry is exact even between saves.
"""

from __future__ import annotations

import os
import time

from llm_api.platform.local.state import _SqliteStore
from llm_api.stored_responses import MAX_RESPONSES_PER_KEY, RETENTION_S, check_record, expired


class SqliteResponseStore(_SqliteStore):
    """:class:`llm_api.stored_responses.ResponseStore` in ``state.db``."""

    def __init__(
        self, path: str | os.PathLike[str], *, per_key: int = MAX_RESPONSES_PER_KEY
    ) -> None:
        super().__init__(path)
        self.per_key = per_key

    async def save(self, key_id: str, response_id: str, record: str, *, created_at: int) -> None:
        check_record(record)
        conn = self.conn
        # One transaction: one WAL commit for the three statements, and no reader (the
        # CLI, another process) ever sees the key over its bound.
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM responses WHERE created_at <= ?", (_cutoff(),))
            # REPLACE gives a re-saved id a new rowid: it becomes the key's newest.
            conn.execute(
                "INSERT OR REPLACE INTO responses (key_id, response_id, created_at, record)"
                " VALUES (?, ?, ?, ?)",
                (key_id, response_id, int(created_at), record),
            )
            conn.execute(
                # responses_by_key holds (key_id, rowid): newest first without a sort
                "DELETE FROM responses WHERE rowid IN (SELECT rowid FROM responses"
                " WHERE key_id = ? ORDER BY rowid DESC LIMIT -1 OFFSET ?)",
                (key_id, self.per_key),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def load(self, key_id: str, response_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT record FROM responses WHERE key_id = ? AND response_id = ? AND created_at > ?",
            (key_id, response_id, _cutoff()),
        ).fetchone()
        return None if row is None else str(row["record"])

    async def delete(self, key_id: str, response_id: str) -> bool:
        found = self.conn.execute(
            "DELETE FROM responses WHERE key_id = ? AND response_id = ? RETURNING created_at",
            (key_id, response_id),
        ).fetchall()  # all: the statement is finished (and committed) here
        # An expired row goes too, but was no longer this key's to delete.
        return bool(found) and not expired(int(found[0]["created_at"]))


def _cutoff() -> int:
    """Rows made at or before this are expired (``stored_responses.expired``)."""
    return int(time.time()) - RETENTION_S
