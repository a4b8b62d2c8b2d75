"""A SQLite-backed Durable Object's ``ctx.storage.sql``, backed by Python's sqlite3.

Two shapes of the same thing:

* ``FakeStorage`` — Python objects (``exec`` returns a cursor whose ``toArray()`` is a
  list of dicts), for ``RateLimiterState``'s own unit tests.
* ``JsStorage`` — JS-shaped (``DurableObjectStorage`` → ``SqlStorage`` →
  ``SqlStorageCursor`` whose ``toArray()`` is a JS array of objects), for a real
  ``entry.RateLimiter`` built under the fake runtime: the real SDK wraps ``ctx.storage``
  by that constructor name and converts every result, as it does in workerd.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from tests.support.workers_fake.ffi import JsArray, JsObject, JsProxy


class FakeCursor:
    """workerd's ``SqlStorageCursor``: ``toArray()``, ``one()``, iteration."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self._rows = found

    def toArray(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def one(self) -> dict[str, Any]:
        if len(self._rows) != 1:
            raise RuntimeError(f"Expected exactly one result from SQL query, got {len(self._rows)}")
        return self._rows[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)


class FakeSql:
    """``storage.sql``: synchronous ``exec(sql, *bindings)``, one statement per call."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.statements: list[str] = []

    def exec(self, sql: str, *bindings: Any) -> FakeCursor:
        self.statements.append(sql)
        return FakeCursor([dict(row) for row in self.db.execute(sql, bindings).fetchall()])

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.statements if s.startswith(prefix))

    def admissions(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT at FROM admissions ORDER BY at")]


class FakeStorage:
    def __init__(self) -> None:
        self.sql = FakeSql()


class JsSqlCursor(JsProxy):
    js_name = "SqlStorageCursor"

    def __init__(self, cursor: FakeCursor) -> None:
        self._cursor = cursor

    def toArray(self) -> JsArray:
        return JsArray(JsObject(row) for row in self._cursor.toArray())

    def one(self) -> JsObject:
        return JsObject(self._cursor.one())

    def __iter__(self) -> Iterator[JsObject]:
        return (JsObject(row) for row in self._cursor)


class JsSqlStorage(JsProxy):
    js_name = "SqlStorage"

    def __init__(self) -> None:
        self.fake = FakeSql()

    def exec(self, sql: str, *bindings: Any) -> JsSqlCursor:
        assert all(isinstance(b, str | int | float) for b in bindings), bindings
        return JsSqlCursor(self.fake.exec(sql, *bindings))


class JsStorage(JsProxy):
    js_name = "DurableObjectStorage"

    def __init__(self) -> None:
        self.sql = JsSqlStorage()
