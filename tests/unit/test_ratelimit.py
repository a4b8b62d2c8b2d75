from __future__ import annotations

import asyncio
import random

import pytest

from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.ratelimit import (
    Decision,
    admit,
    openai_duration,
    rate_limit_headers,
    retry_after_header,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_150_concurrent_hits_on_one_key_admit_exactly_100() -> None:
    limiter = InProcessLimiter(clock=FakeClock())

    async def burst() -> list[Decision]:
        return await asyncio.gather(*(limiter.hit("k1", 100) for _ in range(150)))

    decisions = asyncio.run(burst())

    assert sum(d.admitted for d in decisions) == 100
    assert [d.admitted for d in decisions] == [True] * 100 + [False] * 50
    assert [d.remaining for d in decisions[:100]] == list(range(99, -1, -1))
    assert len(limiter.log("k1")) == 100


def test_150_concurrent_hits_with_a_real_clock_admit_exactly_100() -> None:
    limiter = InProcessLimiter()

    async def burst() -> list[Decision]:
        return await asyncio.gather(*(limiter.hit("k1", 100) for _ in range(150)))

    assert sum(d.admitted for d in asyncio.run(burst())) == 100


def test_window_slides_exactly_when_the_oldest_admission_is_60_s_old() -> None:
    clock = FakeClock(1000.0)
    limiter = InProcessLimiter(clock=clock)

    async def scenario() -> None:
        assert (await limiter.hit("k", 2)).admitted  # t = 1000
        clock.now = 1030.0
        assert (await limiter.hit("k", 2)).admitted  # t = 1030
        clock.now = 1059.999
        rejected = await limiter.hit("k", 2)
        assert not rejected.admitted
        assert rejected.retry_after_s == pytest.approx(0.001)
        clock.now = 1060.0  # the first admission is exactly 60 s old
        again = await limiter.hit("k", 2)
        assert again.admitted
        assert again.remaining == 0
        assert again.reset_after_s == 30.0  # the 1030 admission leaves at 1090
        clock.now = 1089.999
        assert not (await limiter.hit("k", 2)).admitted
        clock.now = 1090.0
        assert (await limiter.hit("k", 2)).admitted

    asyncio.run(scenario())
    assert limiter.log("k") == [1060.0, 1090.0]


def test_boundary_on_integer_millisecond_times() -> None:
    log: list[float] = []
    decision, log = admit(log, 0.0, 1)
    assert decision.admitted
    decision, _ = admit(log, 59.999, 1)
    assert not decision.admitted
    decision, log = admit(log, 60.0, 1)
    assert decision.admitted
    assert log == [60.0]


def test_two_keys_do_not_share_quota() -> None:
    limiter = InProcessLimiter(clock=FakeClock())

    async def scenario() -> tuple[list[Decision], list[Decision]]:
        a = await asyncio.gather(*(limiter.hit("a", 3) for _ in range(5)))
        b = await asyncio.gather(*(limiter.hit("b", 3) for _ in range(5)))
        return a, b

    a, b = asyncio.run(scenario())
    assert [d.admitted for d in a] == [True, True, True, False, False]
    assert [d.admitted for d in b] == [True, True, True, False, False]


def test_per_key_limits_differ() -> None:
    limiter = InProcessLimiter(clock=FakeClock())

    async def scenario() -> tuple[int, int]:
        a = await asyncio.gather(*(limiter.hit("a", 2) for _ in range(10)))
        b = await asyncio.gather(*(limiter.hit("b", 7) for _ in range(10)))
        return sum(d.admitted for d in a), sum(d.admitted for d in b)

    assert asyncio.run(scenario()) == (2, 7)


def test_rejected_hits_do_not_consume_quota() -> None:
    clock = FakeClock(0.0)
    limiter = InProcessLimiter(clock=clock)

    async def scenario() -> None:
        assert (await limiter.hit("k", 1)).admitted
        for second in range(1, 60):
            clock.now = float(second)
            assert not (await limiter.hit("k", 1)).admitted
        assert limiter.log("k") == [0.0]
        # Had the rejections been logged, the window would still be full at t = 60.
        clock.now = 60.0
        assert (await limiter.hit("k", 1)).admitted

    asyncio.run(scenario())


def test_admit_does_not_mutate_its_input_and_prunes_expired_entries() -> None:
    log = [0.0, 10.0, 50.0]
    decision, new_log = admit(log, 65.0, 5)
    assert log == [0.0, 10.0, 50.0]
    assert new_log == [10.0, 50.0, 65.0]
    assert decision == Decision(
        admitted=True, limit=5, remaining=2, reset_after_s=5.0, retry_after_s=0.0
    )


def test_remaining_reset_and_retry_are_exact() -> None:
    log: list[float] = []
    for t, remaining in ((0.0, 2), (12.0, 1), (20.0, 0)):
        decision, log = admit(log, t, 3)
        assert decision.admitted
        assert decision.remaining == remaining
        assert decision.reset_after_s == 60.0 - t  # until the 0.0 admission leaves
        assert decision.retry_after_s == 0.0
    decision, log = admit(log, 48.0, 3)
    assert decision == Decision(
        admitted=False, limit=3, remaining=0, reset_after_s=12.0, retry_after_s=12.0
    )
    assert log == [0.0, 12.0, 20.0]
    decision, log = admit(log, 60.0, 3)
    assert decision == Decision(
        admitted=True, limit=3, remaining=0, reset_after_s=12.0, retry_after_s=0.0
    )


def test_empty_window_reports_no_reset() -> None:
    decision, log = admit([], 5.0, 0)
    assert decision == Decision(
        admitted=False, limit=0, remaining=0, reset_after_s=0.0, retry_after_s=60.0
    )
    assert log == []


def test_lowered_limit_waits_for_enough_entries_to_expire() -> None:
    # Five admissions under an old limit of 5; the key's limit is now 2.
    log = [0.0, 10.0, 20.0, 30.0, 40.0]
    decision, _ = admit(log, 45.0, 2)
    assert not decision.admitted
    assert decision.remaining == 0
    assert decision.reset_after_s == 15.0  # 0.0 leaves at 60
    assert decision.retry_after_s == 45.0  # only 2 left in the window once 30.0 leaves at 90


def _random_schedule(rng: random.Random, steps: int) -> list[int]:
    """Arrival times in whole ms: bursts, trickles, and steps landing on the boundary."""
    t, times = 0, []
    for _ in range(steps):
        if rng.random() < 0.97:
            t += rng.choice((0, 1, rng.randint(0, 50), rng.randint(0, 1000)))
        else:
            t += rng.choice((59_999, 60_000, 60_001, rng.randint(0, 70_000)))
        times.append(t)
    return times


@pytest.mark.parametrize("limit", [1, 3, 10, 100])
def test_no_60_second_span_ever_admits_more_than_the_limit(limit: int) -> None:
    # admit() is unit-agnostic: integer milliseconds with a 60_000 window keep every
    # comparison exact, so the check below can be exact too.
    rng = random.Random(20240604 + limit)
    log: list[float] = []
    admitted: list[int] = []
    rejected: list[int] = []
    for t in _random_schedule(rng, 4000):
        decision, log = admit(log, t, limit, 60_000)
        (admitted if decision.admitted else rejected).append(t)
        if not decision.admitted:
            # The rejection names the exact moment a slot frees, and not a ms earlier.
            wait = decision.retry_after_s
            assert not admit(log, t + wait - 1, limit, 60_000)[0].admitted
            assert admit(log, t + wait, limit, 60_000)[0].admitted
    assert admitted and rejected
    # Safety: any 60 s span [start, start + 60 s) holds at most `limit` admissions.
    for i, start in enumerate(admitted):
        assert sum(1 for other in admitted[i:] if other - start < 60_000) <= limit
    # Liveness: every rejection had `limit` admissions in the 60 s before it.
    for t in rejected:
        assert sum(1 for a in admitted if t - 60_000 < a <= t) >= limit


def test_no_span_exceeds_the_limit_with_float_seconds() -> None:
    rng = random.Random(7)
    log: list[float] = []
    admitted: list[float] = []
    t = 1_700_000_000.0  # epoch-sized values, where float rounding is coarsest
    for _ in range(3000):
        t += rng.choice((0.0, 0.0001, rng.random() * 5, 59.9999, 60.0, 60.0001))
        decision, log = admit(log, t, 5)
        if decision.admitted:
            admitted.append(t)
    for i, start in enumerate(admitted):
        assert sum(1 for other in admitted[i:] if other - start < 60.0) <= 5


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.012, "12ms"),
        (0.0004, "1ms"),
        (0.9995, "1s"),
        (1.0, "1s"),
        (12.0, "12s"),
        (17.28, "17.28s"),
        (59.99999999999, "1m0s"),
        (90.0, "1m30s"),
        (90.5, "1m30.5s"),
        (360.0, "6m0s"),
        (3600.0, "1h0m0s"),
        (3723.0, "1h2m3s"),
    ],
)
def test_openai_duration(seconds: float, text: str) -> None:
    assert openai_duration(seconds) == text


def test_rate_limit_headers_for_an_admission() -> None:
    decision = Decision(admitted=True, limit=100, remaining=42, reset_after_s=11.2, retry_after_s=0)
    assert rate_limit_headers(decision, 60.0) == {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "42",
        "x-ratelimit-reset-requests": "11.2s",
        "RateLimit-Policy": '"default";q=100;w=60',
        "RateLimit": '"default";r=42;t=12',
    }


def test_rate_limit_headers_for_a_rejection() -> None:
    decision = Decision(
        admitted=False, limit=100, remaining=0, reset_after_s=0.012, retry_after_s=0.012
    )
    headers = rate_limit_headers(decision)
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "12ms"
    assert headers["RateLimit"] == '"default";r=0;t=1'
    assert retry_after_header(decision.retry_after_s) == "1"


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (0.0, "1"),
        (0.001, "1"),
        (0.2, "1"),
        (1.0, "1"),
        (1.0004, "2"),  # sent as "1" once: a client that obeyed it was refused again
        (1.001, "2"),
        (12.0, "12"),
        (59.5, "60"),
        (59.99999999999, "60"),  # float noise is not a fraction of a second
    ],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_1(
    retry_after: float, header: str
) -> None:
    assert retry_after_header(retry_after) == header


def test_decision_round_trips_through_a_dict() -> None:
    decision = Decision(admitted=False, limit=5, remaining=0, reset_after_s=1.5, retry_after_s=1.5)
    assert Decision.from_dict(decision.to_dict()) == decision


def test_idle_keys_are_forgotten() -> None:
    clock = FakeClock(0.0)
    limiter = InProcessLimiter(clock=clock)
    asyncio.run(limiter.hit("k", 1))
    clock.now = 120.0
    # A zero limit admits nothing, so the pruned log ends empty and is dropped.
    assert not asyncio.run(limiter.hit("k", 0)).admitted
    assert limiter.log("k") == []
    assert "k" not in limiter._logs
