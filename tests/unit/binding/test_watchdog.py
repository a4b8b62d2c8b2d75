"""llm_api.binding.watchdog: one timer per stream, same outcomes as asyncio.timeout per wait."""

from __future__ import annotations

import asyncio

import pytest

from llm_api.binding.watchdog import Watchdog


async def wait(watchdog: Watchdog, seconds: float) -> str:
    """One guarded wait, as the stream readers do it."""
    task = watchdog.start()
    try:
        await asyncio.sleep(seconds)
        return "done"
    except asyncio.CancelledError:
        if watchdog.expired_on(task):
            return "timed out"
        raise
    finally:
        watchdog.stop()


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_idle_waits_each_get_the_whole_limit() -> None:
    async def scenario() -> list[str]:
        watchdog = Watchdog(0.1, idle=True)
        try:  # 8 waits of 0.04 s: 0.32 s in all, never 0.1 s without activity
            return [await wait(watchdog, 0.04) for _ in range(8)]
        finally:
            watchdog.close()

    assert run(scenario()) == ["done"] * 8


def test_an_idle_stall_times_out() -> None:
    async def scenario() -> list[str]:
        watchdog = Watchdog(0.1, idle=True)
        try:
            return [await wait(watchdog, 0.02), await wait(watchdog, 1.0)]
        finally:
            watchdog.close()

    assert run(scenario()) == ["done", "timed out"]


def test_idle_time_outside_waits_does_not_count() -> None:
    async def scenario() -> list[str]:
        watchdog = Watchdog(0.1, idle=True)
        try:
            first = await wait(watchdog, 0.01)
            await asyncio.sleep(0.3)  # the consumer is slow, not the upstream
            return [first, await wait(watchdog, 0.01)]
        finally:
            watchdog.close()

    assert run(scenario()) == ["done", "done"]


def test_a_deadline_covers_every_wait_together() -> None:
    async def scenario() -> list[str]:
        watchdog = Watchdog(0.15, idle=False)
        try:
            return [await wait(watchdog, 0.06) for _ in range(3)]
        finally:
            watchdog.close()

    assert run(scenario()) == ["done", "done", "timed out"]


def test_a_deadline_passed_between_waits_refuses_the_next_one() -> None:
    async def scenario() -> None:
        watchdog = Watchdog(0.05, idle=False)
        try:
            await asyncio.sleep(0.1)
            assert watchdog.expired
            with pytest.raises(TimeoutError):
                watchdog.start()
        finally:
            watchdog.close()

    run(scenario())


def test_someone_elses_cancellation_stays_a_cancellation() -> None:
    async def scenario() -> None:
        watchdog = Watchdog(5.0, idle=True)
        waiter = asyncio.create_task(wait(watchdog, 5.0))
        await asyncio.sleep(0.02)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        watchdog.close()

    run(scenario())


def test_closing_leaves_no_timer_behind() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        watchdog = Watchdog(5.0, idle=False)
        watchdog.close()
        await asyncio.sleep(0)
        assert not [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]

    asyncio.run(scenario())  # without run()'s own wait_for timer
