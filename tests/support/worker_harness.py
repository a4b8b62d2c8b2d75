"""Start the Worker harness (tests/worker/harness/) and its AI host for tests and benches.

``running_worker`` runs ``src/entry.py`` under real Pyodide on Node 22
(``tests/worker/harness/server.mjs``) with wrangler.toml's ``[vars]``, an ``ADMIN_TOKEN``
secret, in-memory KV and SQLite-backed Durable Objects under a temporary folder, and
yields once the server says it listens (one JSON line on its stdout; no polling).
``ai_host`` runs the embedded model behind a binding-shaped endpoint
(``tests/worker/harness/ai_host.py``) for the Worker's ``env.AI`` to forward to.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.paths import ROOT

NODE = ROOT / "node_modules" / ".bin" / "node"
HARNESS = ROOT / "tests" / "worker" / "harness"
WHEELS = ROOT / ".worker-wheels"
#: the harness loads Pyodide and the wheels, then imports the app (~5 s on 2 cores)
STARTUP_TIMEOUT_S = 120


@dataclass(frozen=True)
class Worker:
    url: str
    key: str  # an API key made at start (rpm 100,000: the suite's own); "" for another main
    admin_token: str
    pid: int
    startup_ms: int  # Pyodide loaded, wheels installed, entry.py imported
    log_path: Path

    def new_key(self, name: str, *, rpm: int | None = None) -> str:
        """A new API key, from the Worker's own admin API (``POST /admin/keys``)."""
        body: dict[str, object] = {"name": name}
        if rpm is not None:
            body["rpm"] = rpm
        return _new_key(self.url, self.admin_token, body)


def _new_key(url: str, admin_token: str, body: dict[str, object]) -> str:
    response = httpx.post(
        f"{url}/admin/keys",
        json=body,
        headers={"authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["key"]


def wrangler_vars() -> dict[str, str]:
    """The ``[vars]`` a deployed Worker gets (as strings, as workerd passes them)."""
    with open(ROOT / "wrangler.toml", "rb") as file:
        return {name: str(value) for name, value in tomllib.load(file)["vars"].items()}


def _check_installed() -> None:
    if not NODE.exists():
        raise RuntimeError(f"{NODE} is missing: run `npm ci` (make test does)")
    if not (WHEELS / ".installed").exists():
        raise RuntimeError(f"{WHEELS} is missing: run `make {WHEELS.name}/.installed`")


@contextmanager
def running_worker(
    *, ai: str = "scripted", vars: Mapping[str, str] | None = None, main: str = "entry",
    src: Path = ROOT / "src", durable_objects: Mapping[str, str] | None = None,
) -> Iterator[Worker]:  # fmt: skip
    """The Worker on a free loopback port until the block ends. ``ai`` is ``"scripted"``
    (the documented fixtures' answers) or an AI host's URL. ``durable_objects`` maps
    bindings to classes of ``main`` (default: wrangler.toml's, for ``entry``)."""
    if durable_objects is None:
        durable_objects = {"RATE_LIMITER": "RateLimiter"} if main == "entry" else {}
    _check_installed()
    admin_token = "adm_" + secrets.token_urlsafe(24)
    env_vars = {**wrangler_vars(), "ADMIN_TOKEN": admin_token, **(vars or {})}
    with tempfile.TemporaryDirectory(prefix="llm-api-worker-") as state:
        command = [
            str(NODE), "--disable-warning=ExperimentalWarning", str(HARNESS / "server.mjs"),
            "--port", "0", "--ai", ai, "--vars", json.dumps(env_vars), "--state-dir", state,
            "--main", main, "--src", str(src), "--wheels", str(WHEELS),
            "--durable-objects", json.dumps(durable_objects),
        ]  # fmt: skip
        with _ready_process(command, "llm-api-worker") as (ready, process, log_path):
            url = str(ready["ready"])
            yield Worker(
                url=url,
                # another main module (a bench's bare Worker) has no admin API
                key=_new_key(url, admin_token, {"name": "e2e", "rpm": 100_000})
                if main == "entry"
                else "",
                admin_token=admin_token,
                pid=process.pid,
                startup_ms=int(ready["startup_ms"]),
                log_path=log_path,
            )


@contextmanager
def ai_host() -> Iterator[str]:
    """The embedded model as a Workers AI binding; yields its URL for ``running_worker``."""
    command = [sys.executable, "-m", "tests.worker.harness.ai_host"]
    with _ready_process(command, "llm-api-ai-host", cwd=ROOT) as (ready, _process, _log):
        yield ready["ready"]


@contextmanager
def _ready_process(
    command: list[str], name: str, cwd: Path | None = None
) -> Iterator[tuple[dict[str, object], subprocess.Popen[bytes], Path]]:
    """Run ``command`` (stderr to a log file) until it prints its ready line, then yield."""
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    with tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", dir=log_dir) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, cwd=cwd, env=_child_env()
        )
        try:
            ready = _ready_line(process, log_path)
            yield ready, process, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()


def _child_env() -> dict[str, str]:
    # the sources under test first (a worktree's venv may point at another checkout)
    path = os.pathsep.join(
        filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")])
    )
    return {**os.environ, "PYTHONPATH": path}


def _ready_line(process: subprocess.Popen[bytes], log_path: Path) -> dict[str, object]:
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(timeout=left):
                line = process.stdout.readline()
                if not line:  # stdout closed: the process is gone
                    break
                return json.loads(line)
    process.poll()
    status = "exited" if process.returncode is not None else "did not become ready"
    raise RuntimeError(f"{process.args[2:4]} {status}:\n{log_path.read_text()[-4000:]}")
