"""The Durable Object's logic against a fake of ``ctx.storage.sql`` backed by sqlite3."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.workers.durable_object import RateLimiterState, rows
from llm_api.ratelimit import Decision
from tests.support.workers_fake.storage import FakeCursor, FakeStorage


class FakeJsProxy:
    """Stands in for a Pyodide ``JsProxy``: only ``to_py()``."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def to_py(self) -> Any:
        return self._value


T0 = 1_700_000_000_123  # an epoch-sized Date.now(), where float seconds lose precision


def test_150_hits_admit_exactly_100() -> None:
    storage = FakeStorage()
    state = RateLimiterState(storage)
    decisions = [Decision.from_dict(state.hit(100, T0)) for _ in range(150)]
    assert [d.admitted for d in decisions] == [True] * 100 + [False] * 50
    assert decisions[99].remaining == 0
    assert decisions[-1].retry_after_s == 60.0
    assert storage.sql.admissions() == [T0] * 100  # rejections are not stored


def test_window_slides_exactly_at_60_s_on_epoch_milliseconds() -> None:
    storage = FakeStorage()
    state = RateLimiterState(storage)
    assert state.hit(2, T0)["admitted"]
    assert state.hit(2, T0 + 30_000)["admitted"]
    rejected = state.hit(2, T0 + 59_999)
    assert not rejected["admitted"]
    assert rejected["retry_after_s"] == pytest.approx(0.001, abs=1e-9)
    admitted = state.hit(2, T0 + 60_000)
    assert admitted == {
        "admitted": True,
        "limit": 2,
        "remaining": 0,
        "reset_after_s": 30.0,
        "retry_after_s": 0.0,
    }
    assert storage.sql.admissions() == [T0 + 30_000, T0 + 60_000]


def test_state_survives_eviction() -> None:
    storage = FakeStorage()
    first = RateLimiterState(storage)
    for _ in range(3):
        assert first.hit(3, T0)["admitted"]
    # The object is evicted; a new instance reads the same storage.
    second = RateLimiterState(storage)
    assert not second.hit(3, T0 + 1_000)["admitted"]
    assert second.hit(3, T0 + 60_000)["remaining"] == 2  # the three at T0 have left
    assert storage.sql.admissions() == [T0 + 60_000]


def test_reads_the_table_once_then_writes_only_changes() -> None:
    storage = FakeStorage()
    state = RateLimiterState(storage)
    for i in range(10):
        state.hit(5, T0 + i)
    state.hit(5, T0 + 60_002)  # prunes T0, T0+1, T0+2
    sql = storage.sql
    assert sql.count("SELECT") == 1
    assert sql.count("INSERT") == 6  # 5 admissions, then 1 after the slide
    assert sql.count("DELETE") == 1
    assert sql.count("CREATE") == 2
    assert sql.admissions() == [T0 + 3, T0 + 4, T0 + 60_002]


def _schedule(rng: random.Random, steps: int) -> list[int]:
    # Steps in multiples of 125 ms, so t_ms / 1000 is exact in binary floating point and
    # the in-process limiter (float seconds) must agree to the last bit.
    t, times = 0, []
    for _ in range(steps):
        if rng.random() < 0.95:
            t += 125 * rng.choice((0, 0, 0, 1, rng.randint(0, 40)))
        else:
            t += rng.choice((60_000, 59_875, 60_125, 125 * rng.randint(0, 600)))
        times.append(t)
    return times


@pytest.mark.parametrize("limit", [1, 4, 100])
def test_same_decisions_as_the_in_process_limiter(limit: int) -> None:
    rng = random.Random(1234 + limit)
    times = _schedule(rng, 2000)
    state = RateLimiterState(FakeStorage())
    limiter = InProcessLimiter()

    async def local() -> list[Decision]:
        return [await limiter.hit("key", limit, now=t / 1000) for t in times]

    expected = asyncio.run(local())
    got = [Decision.from_dict(state.hit(limit, t)) for t in times]
    assert got == expected
    assert {d.admitted for d in got} == {True, False}


def test_a_hit_on_a_long_window_costs_no_sort_of_the_log() -> None:
    # A key allowed 100,000 a minute near its limit: each hit used to copy, convert and
    # sort the whole log (0.7 ms of CPU per request under Pyodide at 1,600 entries).
    state = RateLimiterState(FakeStorage())
    for at in range(20_000):
        state.hit(100_000, T0 + at)
    started = time.process_time()
    for at in range(20_000, 22_000):
        assert state.hit(100_000, T0 + at)["admitted"]
    # sorting 20,000 entries 2,000 times took ~8 s here; bisection takes ~0.1 s
    assert time.process_time() - started < 2.0


def test_a_clock_that_steps_back_counts_as_the_latest_admission() -> None:
    storage = FakeStorage()
    state = RateLimiterState(storage)
    assert state.hit(2, T0 + 5_000)["admitted"]
    stepped_back = state.hit(2, T0)  # Date.now() moved back 5 s
    assert stepped_back["admitted"] and stepped_back["remaining"] == 0
    assert storage.sql.admissions() == [T0 + 5_000, T0 + 5_000]
    assert not state.hit(2, T0 + 64_999)["admitted"]
    assert state.hit(2, T0 + 65_000)["admitted"]


def test_usage_aggregates_per_day_newest_first() -> None:
    state = RateLimiterState(FakeStorage())
    state.record_usage("2025-03-01", 10, 5, 0.5)
    state.record_usage("2025-03-01", 1, 2, 0.25, True)
    state.record_usage("2025-03-03", 7, 0, 0.0)
    state.record_usage("2025-01-01", 1, 1, 1.0)
    assert state.usage(30, "2025-03-03") == [
        {
            "day": "2025-03-03",
            "requests": 1,
            "prompt_tokens": 7,
            "completion_tokens": 0,
            "cost_usd": 0.0,
            "estimated_requests": 0,
        },
        {
            "day": "2025-03-01",
            "requests": 2,
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "cost_usd": 0.75,
            "estimated_requests": 1,
        },
    ]
    assert [e["day"] for e in state.usage(3, "2025-03-03")] == ["2025-03-03", "2025-03-01"]
    assert [e["day"] for e in state.usage(2, "2025-03-03")] == ["2025-03-03"]


def test_an_object_whose_usage_table_predates_estimates_is_migrated() -> None:
    # issue 12, finding 9: a Durable Object created before ``estimated_requests`` existed
    storage = FakeStorage()
    storage.sql.exec(
        "CREATE TABLE usage (day TEXT PRIMARY KEY, requests INTEGER NOT NULL,"
        " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
        " cost_usd REAL NOT NULL)"
    )
    storage.sql.exec("INSERT INTO usage VALUES ('2025-03-01', 2, 10, 4, 0.5)")
    state = RateLimiterState(storage)
    state.record_usage("2025-03-01", 1, 1, 0.0, True)
    [day] = state.usage(30, "2025-03-01")
    assert (day["requests"], day["prompt_tokens"], day["estimated_requests"]) == (3, 11, 1)
    assert RateLimiterState(storage).usage(30, "2025-03-01") == [day]  # migrated once


def test_usage_and_limits_share_one_object_without_interfering() -> None:
    storage = FakeStorage()
    state = RateLimiterState(storage)
    state.record_usage("2025-03-01", 1, 1, 0.1)
    assert state.hit(1, T0)["admitted"]
    assert not state.hit(1, T0)["admitted"]
    assert len(state.usage(1, "2025-03-01")) == 1


def test_rows_accepts_the_shapes_the_runtime_may_hand_back() -> None:
    plain = [{"at": 1}, {"at": 2}]
    assert rows(FakeCursor(plain)) == plain

    class ProxyArrayCursor:  # toArray() returns a JsProxy of an array of objects
        def toArray(self) -> FakeJsProxy:
            return FakeJsProxy([{"at": 1}, {"at": 2}])

    class ProxyRowsCursor:  # toArray() returns a list of JsProxy rows
        def toArray(self) -> list[FakeJsProxy]:
            return [FakeJsProxy({"at": 1}), FakeJsProxy({"at": 2})]

    class IterableOnlyCursor:  # no toArray(): iterate
        def __iter__(self):
            return iter([FakeJsProxy({"at": 1}), (("at", 2),)])

    assert rows(ProxyArrayCursor()) == plain
    assert rows(ProxyRowsCursor()) == plain
    assert rows(IterableOnlyCursor()) == plain
