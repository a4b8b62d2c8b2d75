"""Workers AI faults through the app and the real REST backend, in one event loop (ASGI).

The same table as tests/e2e/test_fault_injection_e2e.py, with what only an in-process run
can see: once the answers are in, no task is left running and no upstream connection is
left in use — whole or streamed, retried or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.fake_upstreams import FakeWorkersAI, workers_ai_upstream
from tests.support.upstream_faults import FAULTS, ROUTES, check_answer, request_body


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream() as fake:
        yield fake


async def every_fault(fake: FakeWorkersAI, retries: int) -> tuple[int, set[asyncio.Task], int]:
    """Send every fault on every route, whole and streamed; return the upstream calls
    made, the tasks still alive after, and the upstream connections still in use."""
    backend = WorkersAIRestBackend(fake.account_id, fake.token, base_url=fake.base_url)
    platform = Platform(
        ai=backend,
        settings=Settings(backend_retries=retries),
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
    )
    key, record = new_key("faults")
    await platform.keys.put(record)
    app = create_app(fixed_platform(platform))
    calls_before = len(fake.state.requests)
    headers = {"authorization": f"Bearer {key}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app", headers=headers) as c:
        for fault in FAULTS:
            if retries and fault.retry_after:
                continue  # its Retry-After (2 s) would make this test wait for nothing
            for route in ROUTES:
                for stream in (False, True):
                    body = request_body(route, fault.word, stream=stream)
                    response = await c.post(route.path, json=body)
                    secrets = [fake.token, fake.url, fake.account_id]
                    check_answer(
                        fault,
                        route,
                        response.status_code,
                        response.headers,
                        response.json(),
                        secrets,
                    )
    in_use = backend.http().connections_in_use()
    await backend.aclose()
    alive = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    return len(fake.state.requests) - calls_before, alive, in_use


def test_faults_leave_no_task_running_and_no_connection_in_use(upstream: FakeWorkersAI) -> None:
    calls, alive, in_use = asyncio.run(every_fault(upstream, retries=0))
    assert calls == len(FAULTS) * len(ROUTES) * 2  # each once: nothing retried, nothing lost
    assert alive == set()
    assert in_use == 0


def test_retried_faults_leave_nothing_behind_either(
    upstream: FakeWorkersAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llm_api.binding.resilient.FIRST_BACKOFF_S", 0.01)
    retried = [fault for fault in FAULTS if fault.retryable and not fault.retry_after]
    calls, alive, in_use = asyncio.run(every_fault(upstream, retries=1))
    sent = len(ROUTES) * 2
    not_retried = len(FAULTS) - len(retried) - sum(f.retry_after for f in FAULTS)
    assert calls == sent * (2 * len(retried) + not_retried)  # a retryable fault: twice
    assert alive == set()
    assert in_use == 0
