"""`llm-api serve` for someone running it the first time (llm_api.platform.local.startup): a busy
port is one plain line before anything loads, and the banner's lines work as printed."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from llm_api.platform.local.startup import Banner, PortUnavailable, browsable_url, listening_socket
from llm_api.platform.local.state import SqliteKeyStore, state_db_path

FAST_EXIT_S = 5


def _keys(state_dir: Path) -> list[str]:
    store = SqliteKeyStore(state_db_path(state_dir))
    try:
        return [record.name for record in asyncio.run(store.list())]
    finally:
        store.close()


def test_serve_on_a_busy_port_exits_with_one_line_before_loading_the_model(
    tmp_path: Path,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "llm_api.cli", "serve", "--state-dir", str(tmp_path)],
            env={**os.environ, "LLM_API_PORT": str(port), "LLM_API_LOG_LEVEL": "info"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no traceback, no uvicorn log
    assert f"port {port}" in lines[0] and "already in use" in lines[0]
    assert "--port" in lines[0] and "LLM_API_PORT" in lines[0]
    assert "embedded model" not in result.stderr  # the model was never loaded
    assert elapsed < FAST_EXIT_S, elapsed
    assert _keys(tmp_path) == []  # and no development key was minted for a start that failed


def test_a_start_that_fails_on_its_static_dir_mints_no_dev_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llm_api.cli", "serve", "--port", "0", "--backend", "openai",
         "--static-dir", str(tmp_path / "missing"), "--state-dir", str(tmp_path / "state")],
        env={**os.environ, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "is not a folder" in result.stderr
    assert _keys(tmp_path / "state") == []  # the next start still makes and shows one


def test_a_port_outside_the_range_is_one_line_too() -> None:
    try:
        listening_socket("127.0.0.1", 70000)
    except PortUnavailable as exc:
        message = str(exc)
    assert "port 70000" in message and "--port or LLM_API_PORT" in message
    assert "\n" not in message


def test_a_wildcard_address_is_announced_as_loopback() -> None:
    with listening_socket("0.0.0.0", 0) as sock:
        port = sock.getsockname()[1]
        assert browsable_url(sock) == f"http://127.0.0.1:{port}"


def test_a_later_start_prints_a_keys_create_line_that_works_as_printed(tmp_path: Path) -> None:
    state_dir = tmp_path / "state dir"  # a space: the printed line must quote it
    text = Banner(
        base_url="http://127.0.0.1:8787",
        engine="embedded:x",
        playground=True,
        state_dir=state_dir,
        dev_key=None,
    ).text()
    assert "Playground  http://127.0.0.1:8787/" in text
    curl = next(line for line in text.splitlines() if "Try it" in line)
    assert '"authorization: Bearer $KEY"' in curl
    create = next(line.strip() for line in text.splitlines() if "KEY=$(" in line)
    shown = subprocess.run(
        ["sh", "-c", f'{create} && printf %s "$KEY"'],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert shown.startswith("llmk_")
    assert _keys(state_dir) == ["me"]
