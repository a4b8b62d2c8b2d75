"""The Responses API from Node 22: the official `openai` npm package, and the AI SDK's
`@ai-sdk/openai` provider (which calls `/v1/responses` by default)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
NODE = ROOT / "node_modules" / ".bin" / "node"
SCRIPTS = Path(__file__).resolve().parents[1] / "node"


def run_node(script: str, base_url: str, api_key: str) -> dict[str, Any]:
    if not NODE.exists() or not (ROOT / "node_modules" / "openai").is_dir():
        pytest.skip("needs `npm ci` (Node 22 and the client packages)")
    result = subprocess.run(
        [str(NODE), str(SCRIPTS / script), f"{base_url}/v1", api_key],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_openai_npm_responses(base_url: str, api_key: str) -> None:
    out = run_node("openai_responses.mjs", base_url, api_key)
    assert out["created"]["id"].startswith("resp_") and out["created"]["text"]
    assert out["created"]["usage"]["total_tokens"] > 0
    assert out["streamed"] == out["streamedFinal"] == out["created"]["text"]  # temperature 0
    assert out["types"][:2] == ["response.created", "response.in_progress"]
    assert out["types"][-1] in ("response.completed", "response.incomplete")
    assert out["sequence"] == list(range(len(out["sequence"])))
    assert out["call"]["name"] == "get_weather"
    assert isinstance(json.loads(out["call"]["arguments"])["city"], str)
    assert out["answered"]["text"] and out["answered"]["previous"]
    assert out["retrieved"] is True and out["afterDelete"] == 404


def test_ai_sdk_openai_provider_responses(base_url: str, api_key: str) -> None:
    out = run_node("ai_sdk_responses.mjs", base_url, api_key)
    generated, streamed, tool = out["generated"], out["streamed"], out["tool"]
    assert generated["text"] and generated["finishReason"] in ("stop", "length")
    assert generated["usage"]["outputTokens"] > 0
    assert generated["responseId"].startswith("resp_")
    assert streamed["text"] == generated["text"] and streamed["deltas"] > 1  # temperature 0
    assert streamed["usage"]["totalTokens"] > 0
    assert tool["steps"] == 2 and tool["results"] == 1
    [call] = tool["calls"]
    assert call["name"] == "get_weather" and isinstance(call["input"]["city"], str)
    assert tool["text"]
