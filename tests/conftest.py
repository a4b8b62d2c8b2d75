from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.platform.base import Platform, fixed_platform
from llm_api.settings import Settings
from tests.scripted_ai import ScriptedAI


@pytest.fixture
def ai() -> ScriptedAI:
    return ScriptedAI()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def client(ai: ScriptedAI, settings: Settings) -> TestClient:
    app = create_app(fixed_platform(Platform(ai=ai, settings=settings)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def sse_data(body: str) -> list[Any]:
    """The JSON payloads of an SSE body, ``"[DONE]"`` kept as the string."""
    assert body.endswith("\n\n"), "an SSE body ends with a blank line"
    events = []
    for frame in body.split("\n\n")[:-1]:
        assert frame.startswith("data: "), frame
        payload = frame.removeprefix("data: ")
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events
