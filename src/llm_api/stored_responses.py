"""Stored Responses API objects (``POST /v1/responses`` with ``store: true``): the store
protocol both hosts implement, its bounds, and an in-memory store for tests.

A stored response is kept per API key: every call names the key, and a key can never read,
continue (``previous_response_id``) or delete another key's responses. The record is JSON
text the Responses service writes and reads back (the response object and the conversation
items ``previous_response_id`` continues); stores do not look inside it. Each store bounds
what it keeps: a response expires ``RETENTION_DAYS`` after it was made, a record is at most
``MAX_RECORD_BYTES``, and a key keeps at most ``MAX_RESPONSES_PER_KEY`` (the oldest go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

#: OpenAI keeps stored responses for 30 days; so do we (README, "Responses API")
RETENTION_DAYS = 30
RETENTION_S = RETENTION_DAYS * 86_400
#: one record: the Durable Object's SQLite takes rows up to 2 MB; well under it
MAX_RECORD_BYTES = 1_000_000
#: per key; saving one more drops that key's oldest
MAX_RESPONSES_PER_KEY = 1_000


class ResponseStore(Protocol):
    async def save(self, key_id: str, response_id: str, record: str, *, created_at: int) -> None:
        """Keep ``record`` (JSON text, at most ``MAX_RECORD_BYTES`` UTF-8 bytes) until
        ``created_at + RETENTION_S`` (POSIX seconds)."""
        ...

    async def load(self, key_id: str, response_id: str) -> str | None:
        """The record, or None when it is unknown, expired or another key's."""
        ...

    async def delete(self, key_id: str, response_id: str) -> bool:
        """True when this key had it (and now has not)."""
        ...


class MemoryResponseStore:
    """A bounded in-process store (tests; hosts that keep nothing across restarts)."""

    def __init__(self, *, per_key: int = MAX_RESPONSES_PER_KEY) -> None:
        self.per_key = per_key
        self._records: dict[str, OrderedDict[str, tuple[int, str]]] = {}

    async def save(self, key_id: str, response_id: str, record: str, *, created_at: int) -> None:
        check_record(record)
        kept = self._records.setdefault(key_id, OrderedDict())
        kept[response_id] = (created_at, record)
        kept.move_to_end(response_id)
        while len(kept) > self.per_key:
            kept.popitem(last=False)

    async def load(self, key_id: str, response_id: str) -> str | None:
        found = self._records.get(key_id, {}).get(response_id)
        if found is None or expired(found[0]):
            return None
        return found[1]

    async def delete(self, key_id: str, response_id: str) -> bool:
        kept = self._records.get(key_id, {})
        found = kept.pop(response_id, None)
        return found is not None and not expired(found[0])


def expired(created_at: int, now: float | None = None) -> bool:
    return (time.time() if now is None else now) >= created_at + RETENTION_S


def check_record(record: str) -> None:
    if len(record.encode()) > MAX_RECORD_BYTES:
        raise ValueError(f"a stored response is at most {MAX_RECORD_BYTES} bytes")
