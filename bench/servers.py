"""Starting the servers the benches measure: loopback only, each under ``timeout``."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LLM_API = ROOT / ".venv" / "bin" / "llm-api"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    stack: ExitStack, name: str, argv: list[str], env: dict[str, str], life: int
) -> subprocess.Popen[bytes]:
    """``argv`` under ``timeout`` (it dies by itself), stopped when the stack closes."""
    log = open(Path(tempfile.gettempdir()) / f"bench-{name}.log", "wb")
    stack.callback(log.close)
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    process = subprocess.Popen(
        ["timeout", "--kill-after=5", str(life), *argv],
        env={**clean, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tempfile.gettempdir(),  # LiteLLM writes files in its working folder
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    return process


def cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU time so far of the server that ``timeout`` runs for ``process``."""
    if process is None:
        return 0.0
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    fields = Path(f"/proc/{children[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, headers: dict[str, str] | None = None, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(
        f"gateway bench: {url} did not come up (see {tempfile.gettempdir()}/bench-*.log)"
    )


def create_key(state_dir: str) -> str:
    created = subprocess.run(
        [str(LLM_API), "keys", "create", "--name", "bench", "--rpm", "1000000",
         "--state-dir", state_dir],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return created.stdout.strip().splitlines()[-1]


def add_variant_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--variant NAME=PYTHONPATH[,VAR=VALUE...]``, repeatable; read with parse_variant."""
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=PYTHONPATH[,VAR=VALUE...]",
        help=f"{what}, run with this PYTHONPATH (empty: none) and these environment "
        "variables (repeatable)",
    )


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """``NAME=PYTHONPATH[,VAR=VALUE...]`` -> the name and the server's extra environment
    (an empty PYTHONPATH adds none: the same code with other settings)."""
    name, _, rest = spec.partition("=")
    path, *settings = rest.split(",")
    env = dict(setting.split("=", 1) for setting in settings if setting)
    if path:
        env["PYTHONPATH"] = path
    return name, env
