"""The AI SDK (`ai` with `@ai-sdk/openai-compatible`, pinned in package.json) under Node 22."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clients.conftest import NO_LIMITED_KEY, one_request_a_minute_key, run_node
from tests.e2e.server import Server

PACKAGES = ("ai", "@ai-sdk/openai-compatible", "zod")


@pytest.fixture(scope="module")
def out(base_url: str, api_key: str, server: Server | None) -> dict[str, Any]:
    """One Node run of every case; with the suite's own server, a 429 too."""
    limited = [one_request_a_minute_key(server)] if server else []
    return run_node("ai_sdk_chat.mjs", f"{base_url}/v1", api_key, *limited, packages=PACKAGES)


def test_generate_text(out: dict[str, Any]) -> None:
    generated = out["generate"]
    assert generated["text"] and generated["finish"] in ("stop", "length")
    assert 0 < generated["outputTokens"] <= 16


def test_stream_text_matches_generate_text(out: dict[str, Any]) -> None:
    stream = out["stream"]
    assert stream["text"] == out["generate"]["text"]  # temperature 0
    assert stream["parts"] > 3  # the text arrived in pieces
    assert stream["finish"] == out["generate"]["finish"]
    assert stream["outputTokens"] == out["generate"]["outputTokens"]  # includeUsage


def test_forced_tool_call(out: dict[str, Any]) -> None:
    tool = out["tool"]
    assert tool["finish"] == "tool-calls"
    (call,) = tool["calls"]
    assert call["name"] == "get_weather" and isinstance(call["input"]["city"], str)


def test_streamed_forced_tool_call(out: dict[str, Any]) -> None:
    streamed = out["streamedTool"]
    assert streamed["finish"] == "tool-calls"
    (call,) = streamed["calls"]
    assert call["name"] == "get_weather" and isinstance(call["input"]["city"], str)
    assert streamed["types"]["tool-input-start"] == streamed["types"]["tool-call"] == 1
    assert "error" not in streamed["types"]


@pytest.mark.parametrize("case", ["object", "output"])
def test_structured_output_with_a_zod_schema(out: dict[str, Any], case: str) -> None:
    """``generateObject`` and AI SDK 7's ``generateText`` with ``Output.object``."""
    answer = out[case]
    assert answer["finish"] == "stop"
    assert answer["object"]["colour"] in ("red", "green", "blue")
    assert isinstance(answer["object"]["liked"], bool)


@pytest.mark.parametrize(
    ("case", "status", "param"),
    [("unauthorized", 401, None), ("notFound", 404, "model"), ("badRequest", 400, "temperature")],
)
def test_errors_are_api_call_errors(out: dict[str, Any], case: str, status: int, param) -> None:
    error = out["errors"][case]
    assert error["apiCallError"] and error["status"] == status
    assert error["retryable"] is False  # the AI SDK retries only what may succeed
    assert error["param"] == param and error["message"]


def test_rate_limit_error_is_retryable(out: dict[str, Any], server: Server | None) -> None:
    if server is None:
        pytest.skip(NO_LIMITED_KEY)
    limited = out["errors"]["rateLimited"]
    assert limited["apiCallError"] and limited["status"] == 429 and limited["retryable"] is True
