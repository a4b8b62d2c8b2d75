"""The official `openai` npm package, under Node, against the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "node" / "openai_client.mjs"


def test_node_sdk_create_and_stream(base_url: str, api_key: str) -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "openai").is_dir():
        pytest.skip("needs node and `npm ci` (make test runs it)")
    result = subprocess.run(
        ["node", str(SCRIPT), f"{base_url}/v1", api_key],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["created"]
    assert out["finish"] in ("stop", "length")
    assert out["streamed"] == out["created"]  # temperature 0: the same answer
    assert out["chunks"] > 3 and out["ids"] == 1
    assert out["usage"]["total_tokens"] > 0
