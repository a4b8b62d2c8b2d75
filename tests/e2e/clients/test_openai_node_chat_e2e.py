"""The `openai` npm package (pinned in package.json) under Node, against Chat Completions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clients.conftest import NO_LIMITED_KEY, one_request_a_minute_key, run_node
from tests.e2e.server import Server


@pytest.fixture(scope="module")
def out(base_url: str, api_key: str, server: Server | None) -> dict[str, Any]:
    """One Node run of every case (one Node start); with the suite's own server, a key
    allowing one request a minute too, for the 429."""
    limited = [one_request_a_minute_key(server)] if server else []
    return run_node(
        "openai_chat.mjs", f"{base_url}/v1", api_key, *limited, packages=("openai", "zod")
    )


def test_create(out: dict[str, Any]) -> None:
    create = out["create"]
    assert create["object"] == "chat.completion" and create["content"]
    assert create["finish"] in ("stop", "length")
    assert 0 < create["completionTokens"] <= 16


def test_stream_matches_create(out: dict[str, Any]) -> None:
    stream = out["stream"]
    assert stream["role"] == "assistant"
    assert stream["text"] == out["create"]["content"]  # temperature 0
    assert stream["chunks"] > 3 and stream["finish"] == out["create"]["finish"]
    assert stream["usage"]["completion_tokens"] == out["create"]["completionTokens"]


def test_forced_tool_call(out: dict[str, Any]) -> None:
    tool = out["tool"]
    assert tool["finish"] == "tool_calls" and tool["name"] == "get_weather"
    assert tool["id"].startswith("call_")
    assert isinstance(tool["arguments"]["city"], str)


def test_parse_with_a_zod_schema(out: dict[str, Any]) -> None:
    parsed = out["parse"]["parsed"]
    assert parsed["colour"] in ("red", "green", "blue")
    assert isinstance(parsed["liked"], bool)


def test_typed_errors(out: dict[str, Any]) -> None:
    errors = out["errors"]
    assert errors["unauthorized"]["class"] == "AuthenticationError"
    assert errors["unauthorized"]["code"] == "invalid_api_key"
    assert errors["notFound"]["class"] == "NotFoundError"
    assert errors["notFound"]["code"] == "model_not_found"
    assert errors["badRequest"]["class"] == "BadRequestError"
    assert errors["badRequest"]["param"] == "n"
    assert all(error["requestID"].startswith("req_") for error in errors.values())


def test_rate_limit_error(out: dict[str, Any], server: Server | None) -> None:
    if server is None:
        pytest.skip(NO_LIMITED_KEY)
    assert out["errors"]["rateLimited"]["class"] == "RateLimitError"
    assert out["errors"]["rateLimited"]["status"] == 429
