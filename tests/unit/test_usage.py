from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.catalog import resolve_model
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.local.state import SqliteUsageStore
from llm_api.settings import Settings
from llm_api.sse import DONE_FRAME, encode_data
from llm_api.usage import (
    MemoryUsageStore,
    UsageEntry,
    add_usage,
    first_day,
    recent,
    totals,
    utc_day,
)
from tests.support.scripted_ai import ScriptedAI


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
    found = [UsageEntry("2025-01-02", 2, 10, 20, 0.5, 1), UsageEntry("2025-01-01", 1, 1, 2, 0.25)]
    assert totals(found) == {
        "requests": 3,
        "prompt_tokens": 11,
        "completion_tokens": 22,
        "cost_usd": 0.75,
        "estimated_requests": 1,
    }
    assert totals([]) == {
        "requests": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0,
        "estimated_requests": 0,
    }


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


# --- issue 12, finding 9: the upstream's usage is checked, and estimated when absurd ------
# Before: negative counts were billed (cost -$391 a request), 1e30 made the SQLite insert
# fail (silently: the record was lost), "lots"/Infinity were 500s, and zeros were billed
# as zero. Now each such count is estimated from the text and the day says how many were.

CHAT = {"model": "llama-3.2-3b-instruct", "messages": [{"role": "user", "content": "hello there"}]}
ANSWER = "four words of answer"
#: the estimate: a quarter token per character, the prompt rounded down (at least 1), the
#: answer up — "hello there" is 2 tokens, ANSWER 5
ESTIMATED = (2, 5)


def usage_days(client) -> list[dict[str, Any]]:
    response = client.get("/api/llm/usage")
    assert response.status_code == 200
    return response.json()["days"]


@pytest.mark.parametrize(
    "reported",
    [
        {"prompt_tokens": -(10**9), "completion_tokens": -(10**9), "total_tokens": -(2 * 10**9)},
        {"prompt_tokens": 1e30, "completion_tokens": 1e30, "total_tokens": 2e30},
        {"prompt_tokens": "lots", "completion_tokens": float("inf")},
        {"prompt_tokens": True, "completion_tokens": 2.5},
        {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        {"prompt_tokens": 10**7, "completion_tokens": 10**7},  # far beyond 2 context windows
    ],
    ids=["negative", "1e30", "lots-infinity", "bool-fraction", "zeros", "beyond-the-context"],
)
def test_negative_or_absurd_usage_is_estimated_and_flagged(client, ai, reported) -> None:
    ai.script(text=ANSWER, usage=reported)
    response = client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    prompt, completion = ESTIMATED
    assert response.json()["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    [day] = usage_days(client)
    assert (day["prompt_tokens"], day["completion_tokens"]) == ESTIMATED
    assert day["estimated_requests"] == 1
    assert day["cost_usd"] == pytest.approx(
        resolve_model("llama-3.2-3b-instruct").estimated_cost(*ESTIMATED)
    )


def test_a_partly_absurd_usage_keeps_the_plausible_count(client, ai) -> None:
    ai.script(text=ANSWER, usage={"prompt_tokens": 9, "completion_tokens": -3})
    assert client.post("/api/llm/chat/completions", json=CHAT).json()["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": ESTIMATED[1],
        "total_tokens": 9 + ESTIMATED[1],
    }
    assert usage_days(client)[0]["estimated_requests"] == 1


def test_plausible_usage_is_recorded_as_reported(client, ai) -> None:
    ai.script(text=ANSWER, usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 99})
    body = client.post("/v1/chat/completions", json=CHAT).json()
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    [day] = usage_days(client)
    assert (day["prompt_tokens"], day["completion_tokens"], day["estimated_requests"]) == (7, 3, 0)


@pytest.mark.parametrize(
    "path", ["/api/llm/chat/completions", "/api/v1/llm/chat", "/v1/chat/completions"]
)
def test_a_stream_without_usage_is_recorded_with_estimated_tokens(client, ai, path) -> None:
    ai.script(raw_events=[encode_data({"response": ANSWER}), DONE_FRAME])
    response = client.post(path, json={**CHAT, "stream": True})
    assert response.status_code == 200
    [day] = usage_days(client)
    assert (day["requests"], day["prompt_tokens"], day["completion_tokens"]) == (1, *ESTIMATED)
    assert day["estimated_requests"] == 1


def test_usage_of_1e30_tokens_no_longer_loses_the_sqlite_record(tmp_path) -> None:
    ai = ScriptedAI()
    platform = Platform(
        ai=ai,
        settings=Settings(),
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=SqliteUsageStore(tmp_path / "state.db"),
    )
    key, record = new_key("big")
    asyncio.run(platform.keys.put(record))
    ai.script(text=ANSWER, usage={"prompt_tokens": 1e30, "completion_tokens": 1e30})
    app = create_app(fixed_platform(platform))
    with TestClient(app, raise_server_exceptions=False, headers=bearer(key)) as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
        [day] = usage_days(client)  # read by the server's own connection
    assert (day["requests"], day["prompt_tokens"], day["completion_tokens"]) == (1, *ESTIMATED)
    assert day["estimated_requests"] == 1


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
