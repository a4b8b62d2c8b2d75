"""The client-compatibility suite: pinned client libraries against the real server.

Every module here reuses the session's one server (``tests/e2e/conftest.py``). The Node
clients run as one script per client (``tests/e2e/node/``) that prints one JSON line,
so each costs one Node start; the tests then check that line part by part.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server, create_key

ROOT = Path(__file__).resolve().parents[3]
NODE = ROOT / "node_modules" / ".bin" / "node"  # Node 22: the AI SDK needs it
SCRIPTS = ROOT / "tests" / "e2e" / "node"
#: every catalog id is the embedded model; this one is marked for tools and JSON
MODEL = "llama-3.3-70b-instruct-fp8-fast"
NODE_TIMEOUT_S = 180


NO_LIMITED_KEY = "a key with its own rate limit needs the suite's own server"


def one_request_a_minute_key(server: Server | None) -> str:
    """A new key allowing one request a minute: its second request is a 429."""
    if server is None:
        pytest.skip(NO_LIMITED_KEY)
    return create_key(server.state_dir, "--rpm", "1", name="one-a-minute")


def run_node(script: str, *args: str, packages: tuple[str, ...]) -> dict[str, Any]:
    """Run ``tests/e2e/node/SCRIPT ARGS`` under Node 22; its last line, as JSON."""
    missing = [name for name in packages if not (ROOT / "node_modules" / name).is_dir()]
    if not NODE.is_file() or missing:
        pytest.skip(f"needs `npm ci` (Node 22 and {', '.join(packages)})")
    result = subprocess.run(
        [str(NODE), "--no-deprecation", str(SCRIPTS / script), *args],
        capture_output=True, text=True, timeout=NODE_TIMEOUT_S, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
