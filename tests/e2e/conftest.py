"""The e2e suite talks HTTP to a real server.

By default it starts ``llm-api serve --backend embedded`` itself. Set
``LLM_API_E2E_BASE_URL`` (and ``LLM_API_E2E_KEY`` once keys are required) to run the
same tests against ``wrangler dev`` or a deployed Worker instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.browser import launched_chromium
from tests.e2e.server import Server, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    external = bool(os.environ.get("LLM_API_E2E_BASE_URL"))
    for item in items:
        if "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if external and item.get_closest_marker("embedded_model"):
                item.add_marker(pytest.mark.skip(reason=EXTERNAL_SKIP))
            if external and item.get_closest_marker("embedded_engine"):
                item.add_marker(pytest.mark.skip(reason=ENGINE_SKIP))


EXTERNAL_SKIP = (
    "needs the embedded model's determinism (same text at temperature 0, every time); "
    "LLM_API_E2E_BASE_URL may serve any model"
)
#: Workers AI takes no tool_choice for legacy-shape models (binding.workers_ai emulates it
#: by filtering the tools), so a forced call is guaranteed only where the engine forces it
ENGINE_SKIP = "needs the embedded backend's own tool_choice enforcement (a llama.cpp grammar)"


@pytest.fixture(scope="session")
def server() -> Iterator[Server | None]:
    """The embedded-model server this suite starts, or None when testing an external URL."""
    if os.environ.get("LLM_API_E2E_BASE_URL"):
        yield None
        return
    with running_server(["--backend", "embedded"]) as started:
        yield started


@pytest.fixture(scope="session")
def base_url(server: Server | None) -> str:
    return server.url if server else os.environ["LLM_API_E2E_BASE_URL"].rstrip("/")


@pytest.fixture(scope="session")
def engine(server: Server | None) -> str | None:
    """What ``x-llm-backend`` starts with: the embedded model here; against
    ``LLM_API_E2E_BASE_URL``, whatever that server runs (not checked)."""
    return "embedded" if server else None


@pytest.fixture(scope="session")
def api_key(server: Server | None) -> str:
    if server:
        return server.key
    key = os.environ.get("LLM_API_E2E_KEY")
    if not key:
        pytest.fail("LLM_API_E2E_BASE_URL needs LLM_API_E2E_KEY, an API key for that server")
    return key


@pytest.fixture
def http(base_url: str, api_key: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, per module: Playwright's sync API owns an event loop while it
    runs, which must not outlive the browser tests. Skips, saying why, without Chromium."""
    with launched_chromium() as started:
        yield started
