"""`make install`'s voice: what a step is about to do, and signs of life while it runs.

    python scripts/install_step.py llama-note     # says how llama-cpp-python will be installed
    python scripts/install_step.py run -- CMD...  # runs CMD, a line every 15 s until it ends

pip runs with --quiet (its full output is some hundred lines), which is silence for the
minutes llama-cpp-python compiles; the ticker's lines show in a terminal and in a CI log
alike. Standard library only: it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: a first `make install` on 2 cores, measured: 4 min 49 s, nearly all of it the compile
BUILD_MINUTES = 5
TICK_S = 15.0


def pinned_llama_version(pyproject: Path = ROOT / "pyproject.toml") -> str | None:
    """The ``llama-cpp-python==X`` pin of the project's dependencies, if any."""
    found = re.search(r"llama-cpp-python==([\w.+-]+)", pyproject.read_text())
    return found.group(1) if found else None


def cached_wheels(python: str = sys.executable) -> list[str]:
    """The llama-cpp-python wheels pip built before and keeps in its cache."""
    try:
        listed = subprocess.run(
            [python, "-m", "pip", "cache", "list", "llama_cpp_python", "--format=abspath"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in listed.stdout.splitlines() if line.endswith(".whl")]


def llama_note(version: str | None, installed: str | None, wheels: list[str]) -> str:
    """One line: which of the three ways llama-cpp-python gets into the venv this time."""
    name = f"llama-cpp-python {version}" if version else "llama-cpp-python"
    if version and installed == version:
        return f"{name} is already installed: this step takes seconds"
    cached = [w for w in wheels if version is None or f"-{version}-" in Path(w).name]
    if cached:
        return f"{name}: reusing the wheel pip built before (in its cache): under a minute"
    cores = os.cpu_count() or 1
    return (
        f"Building {name} from source, about {BUILD_MINUTES} minutes on 2 cores "
        f"({cores} here), with a line every {TICK_S:.0f} s; later installs reuse the cached wheel"
    )


def _installed_llama() -> str | None:
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return None


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def run_with_ticker(command: list[str], every: float = TICK_S) -> int:
    """Run ``command`` in the foreground (Ctrl+C reaches it), printing the time spent
    every ``every`` seconds until it exits; its exit status is returned."""
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(every):
            print(f"    ... still working, {elapsed(time.monotonic() - started)}", flush=True)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        status = subprocess.call(command)
    except KeyboardInterrupt:
        status = 130
    finally:
        done.set()
        ticker.join()
    verdict = "done" if status == 0 else f"failed (exit status {status})"
    print(f"    {verdict} in {elapsed(time.monotonic() - started)}", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("llama-note", help="say how llama-cpp-python will be installed")
    run = steps.add_parser("run", help="run a command with a line every few seconds")
    run.add_argument("--every", type=float, default=TICK_S, help="seconds between lines")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    if args.step == "llama-note":
        print(f"    {llama_note(pinned_llama_version(), _installed_llama(), cached_wheels())}")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    return run_with_ticker(command, args.every)


if __name__ == "__main__":
    raise SystemExit(main())
