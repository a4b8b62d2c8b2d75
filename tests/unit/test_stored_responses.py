"""The in-memory response store keeps the protocol's promises: per key, bounded, expiring."""

from __future__ import annotations

import asyncio
import time

import pytest

from llm_api.stored_responses import (
    MAX_RECORD_BYTES,
    RETENTION_S,
    MemoryResponseStore,
    expired,
)


def test_a_key_never_reads_or_deletes_another_keys_response() -> None:
    asyncio.run(_test_a_key_never_reads_or_deletes_another_keys_response())


async def _test_a_key_never_reads_or_deletes_another_keys_response() -> None:
    store = MemoryResponseStore()
    now = int(time.time())
    await store.save("key-a", "resp_1", '{"a": 1}', created_at=now)
    assert await store.load("key-a", "resp_1") == '{"a": 1}'
    assert await store.load("key-b", "resp_1") is None
    assert await store.delete("key-b", "resp_1") is False
    assert await store.delete("key-a", "resp_1") is True
    assert await store.load("key-a", "resp_1") is None


def test_a_key_keeps_at_most_its_bound_oldest_first_out() -> None:
    asyncio.run(_test_a_key_keeps_at_most_its_bound_oldest_first_out())


async def _test_a_key_keeps_at_most_its_bound_oldest_first_out() -> None:
    store = MemoryResponseStore(per_key=3)
    now = int(time.time())
    for n in range(5):
        await store.save("key-a", f"resp_{n}", "{}", created_at=now)
    assert [await store.load("key-a", f"resp_{n}") for n in range(5)] == [
        None, None, "{}", "{}", "{}"
    ]  # fmt: skip


def test_expired_responses_are_gone_and_records_are_bounded() -> None:
    asyncio.run(_test_expired_responses_are_gone_and_records_are_bounded())


async def _test_expired_responses_are_gone_and_records_are_bounded() -> None:
    store = MemoryResponseStore()
    old = int(time.time()) - RETENTION_S - 1
    await store.save("key-a", "resp_old", "{}", created_at=old)
    assert await store.load("key-a", "resp_old") is None
    assert expired(100, now=100 + RETENTION_S) and not expired(100, now=99 + RETENTION_S)
    with pytest.raises(ValueError, match="at most"):
        await store.save("key-a", "resp_big", "x" * (MAX_RECORD_BYTES + 1), created_at=old)
