"""The e2e suite against the Worker under real Pyodide (tests/worker/harness/).

The session's Worker runs ``src/entry.py`` on Node 22 with the npm package ``pyodide``;
its ``env.AI`` forwards to the embedded model (``ai_host``), so the native, OpenAI SDK and
tutor tests run here unchanged, imported from tests/e2e/. The security tests get a Worker
of their own with the scripted AI (fast fixed answers), as tests/e2e gives them a fast
fake upstream. Marked ``e2e``: they start processes, and `make test-fast` skips them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import ENGINE_SKIP
from tests.support.worker_harness import Worker, ai_host, running_worker

ENGINE = "workers-ai"  # what the Worker's x-llm-backend says: its AI is env.AI


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/worker/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("embedded_engine"):
                # the Worker sends Workers AI inputs, which carry no tool_choice to force
                item.add_marker(pytest.mark.skip(reason=ENGINE_SKIP))


@pytest.fixture(scope="session")
def ai_url() -> Iterator[str]:
    with ai_host() as url:
        yield url


@pytest.fixture(scope="session")
def worker(ai_url: str) -> Iterator[Worker]:
    with running_worker(ai=ai_url) as started:
        yield started


@pytest.fixture(scope="session")
def base_url(worker: Worker) -> str:
    return worker.url


@pytest.fixture(scope="session")
def api_key(worker: Worker) -> str:
    return worker.key


@pytest.fixture(scope="session")
def engine() -> str:
    return ENGINE


@pytest.fixture
def http(base_url: str, api_key: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        yield client
