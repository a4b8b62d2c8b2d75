from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.scripted_ai import ScriptedAI


@pytest.fixture
def ai() -> ScriptedAI:
    return ScriptedAI()


@pytest.fixture
def settings() -> Settings:
    # No retries by default, so a scripted fault is the answer; tests/test_resilience.py
    # covers retries.
    return Settings(backend_retries=0)


@pytest.fixture
def platform(ai: ScriptedAI, settings: Settings) -> Platform:
    return Platform(
        ai=ai,
        settings=settings,
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
    )


@pytest.fixture
def api_key(platform: Platform) -> str:
    key, record = new_key("tests")
    asyncio.run(platform.keys.put(record))
    return key


@pytest.fixture
def client(platform: Platform, api_key: str) -> TestClient:
    """The app over ASGI, sending a valid key with every request."""
    app = create_app(fixed_platform(platform))
    headers = {"authorization": f"Bearer {api_key}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client
