"""The e2e suite talks HTTP to a real server.

By default it starts ``llm-api serve --backend embedded`` itself. Set
``LLM_API_E2E_BASE_URL`` (and ``LLM_API_E2E_KEY`` once keys are required) to run the
same tests against ``wrangler dev`` or a deployed Worker instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import running_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    external = os.environ.get("LLM_API_E2E_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    with running_server(["--backend", "embedded"]) as url:
        yield url


@pytest.fixture(scope="session")
def api_key() -> str | None:
    return os.environ.get("LLM_API_E2E_KEY") or None


@pytest.fixture
def http(base_url: str, api_key: str | None) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        yield client
