"""Start the real ``llm-api serve`` on a free loopback port for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    key: str  # an API key created with `llm-api keys create` for this server's state
    state_dir: Path
    pid: int  # the server process, for tests that watch its memory or CPU

    def new_key(self, name: str, *, rpm: int | None = None) -> str:
        """Another key for this server (``llm-api keys create``); the Worker harness's
        ``Worker.new_key`` does the same over its admin API."""
        return create_key(self.state_dir, *(["--rpm", str(rpm)] if rpm else []), name=name)


def create_key(state_dir: Path, *extra: str, name: str = "e2e") -> str:
    """`llm-api keys create`: the key is alone on the last line of its output."""
    result = subprocess.run(
        [sys.executable, "-m", "llm_api.cli", "keys", "create", "--name", name, *extra,
         "--state-dir", str(state_dir)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


@contextmanager
def running_server(args: list[str], env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Run ``llm-api serve ARGS`` (with its own state folder and key) until the block ends."""
    with tempfile.TemporaryDirectory(prefix="llm-api-e2e-") as state:
        state_dir = Path(state)
        key = create_key(state_dir)
        with serving_process([*args, "--state-dir", state], env) as (url, _log, process):
            yield Server(url=url, key=key, state_dir=state_dir, pid=process.pid)


@contextmanager
def serving(args: list[str], env: Mapping[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """``llm-api serve ARGS`` as is; yields its base URL and the file its output goes to."""
    with serving_process(args, env) as (url, log_path, _process):
        yield url, log_path


@contextmanager
def serving_process(
    args: list[str], env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """``serving``, and the server's process too."""
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llm-api-e2e-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llm_api.cli", "serve", "--port", str(port), *args],
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base_url, process, log_path)
            yield base_url, log_path, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llm-api serve exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llm-api serve did not become healthy:\n{log_path.read_text()[-3000:]}")
