from __future__ import annotations

import asyncio

import pytest

from llm_api.catalog import resolve_model
from llm_api.usage import (
    MemoryUsageStore,
    UsageEntry,
    add_usage,
    first_day,
    recent,
    totals,
    utc_day,
)


def test_add_usage_counts_requests_tokens_and_cost_per_day() -> None:
    entries: dict[str, UsageEntry] = {}
    add_usage(entries, "2025-03-01", 10, 5, 0.5)
    add_usage(entries, "2025-03-01", 1, 2, 0.25)
    add_usage(entries, "2025-03-02", 0, 0, 0.0)
    assert entries == {
        "2025-03-01": UsageEntry("2025-03-01", 2, 11, 7, 0.75),
        "2025-03-02": UsageEntry("2025-03-02", 1, 0, 0, 0.0),
    }


def test_cost_comes_from_the_catalog_prices() -> None:
    model = resolve_model("llama-3.2-3b-instruct")
    entries: dict[str, UsageEntry] = {}
    add_usage(
        entries, "2025-03-01", 1_000_000, 1_000_000, model.estimated_cost(1_000_000, 1_000_000)
    )
    assert entries["2025-03-01"].cost_usd == pytest.approx(0.051 + 0.34)


def test_recent_is_a_calendar_window_newest_first() -> None:
    entries = {
        d: UsageEntry(d, 1) for d in ("2024-12-31", "2025-01-01", "2025-01-30", "2025-02-02")
    }
    assert first_day(30, "2025-01-30") == "2025-01-01"
    assert first_day(1, "2025-01-30") == "2025-01-30"
    assert [e.day for e in recent(entries, days=30, today="2025-01-30")] == [
        "2025-01-30",
        "2025-01-01",
    ]
    assert [e.day for e in recent(list(entries.values()), days=3, today="2025-02-02")] == [
        "2025-02-02"
    ]


def test_totals() -> None:
    found = [UsageEntry("2025-01-02", 2, 10, 20, 0.5), UsageEntry("2025-01-01", 1, 1, 2, 0.25)]
    assert totals(found) == {
        "requests": 3,
        "prompt_tokens": 11,
        "completion_tokens": 22,
        "cost_usd": 0.75,
    }
    assert totals([]) == {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0}


def test_utc_day() -> None:
    assert utc_day(0) == "1970-01-01"
    assert utc_day(86_399.9) == "1970-01-01"
    assert utc_day(86_400) == "1970-01-02"
    assert len(utc_day()) == 10


def test_entry_round_trips_through_a_dict() -> None:
    entry = UsageEntry("2025-01-01", 3, 4, 5, 0.125)
    assert UsageEntry.from_dict(entry.to_dict()) == entry


def test_memory_store_keeps_keys_apart() -> None:
    store = MemoryUsageStore()

    async def scenario() -> None:
        await store.record(
            "a", day="2025-01-01", prompt_tokens=1, completion_tokens=2, cost_usd=0.5
        )
        await store.record(
            "a", day="2025-01-02", prompt_tokens=1, completion_tokens=2, cost_usd=0.5
        )
        await store.record("b", day="2025-01-02", prompt_tokens=9, completion_tokens=9, cost_usd=9)
        assert await store.usage("a", today="2025-01-02") == [
            UsageEntry("2025-01-02", 1, 1, 2, 0.5),
            UsageEntry("2025-01-01", 1, 1, 2, 0.5),
        ]
        assert await store.usage("c", today="2025-01-02") == []

    asyncio.run(scenario())
