"""Garbage-collection pauses in `llm-api serve --backend openai`, with and without the
start-up freeze (llm_api/host_tuning.py), under the same load.

Starts bench/upstream.py and, one after the other, two servers whose interpreter loads
bench/gc_site/sitecustomize.py (it logs every collection; one side has ``gc.freeze``
disabled), loads each with non-streaming requests at concurrency 16, and reports the
pauses per generation and the load's latency.

    python bench/gc_pauses.py [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from loadgen import chat_body, run
from servers import LLM_API, create_key, free_port, start, wait_ready

BENCH = Path(__file__).resolve().parent


def pauses(log_text: str) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for line in log_text.splitlines():
        if line.startswith("GC gen"):
            _, generation, ms = line.split()
            found[generation].append(float(ms))
    return found


def measure(name: str, upstream: str, duration: float, env: dict[str, str]) -> str:
    with ExitStack() as stack:
        state = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-state-"))
        key, port = create_key(state), free_port()
        life = int(duration + 120)
        start(stack, name, [str(LLM_API), "serve", "--backend", "openai", "--port", str(port),
              "--log-level", "warning", "--state-dir", state, "--static-dir", ""],
              {"OPENAI_BASE_URL": upstream, "OPENAI_MODEL": "bench-model",
               "PYTHONPATH": str(BENCH / "gc_site"), **env}, life)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/health")
        log = Path(tempfile.gettempdir()) / f"bench-{name}.log"
        body = chat_body("llama-3.1-8b-instruct", stream=False)
        headers = {"authorization": f"Bearer {key}"}
        offset = log.stat().st_size  # collections during start-up are not the load's
        summary = asyncio.run(run(f"{base}/v1/chat/completions", body, headers,
                                  concurrency=16, duration=duration))  # fmt: skip
    lines = []
    for generation, ms in sorted(pauses(log.read_bytes()[offset:].decode()).items()):
        lines.append(f"| {name} | {generation} | {len(ms)} | {sum(ms):.0f} ms | "
                     f"{statistics.median(ms):.2f} ms | {max(ms):.2f} ms |")  # fmt: skip
    lines.append(f"| {name} | load | {summary['rps']:.0f} req/s | p50 {summary['p50_ms']:.1f} "
                 f"ms | p99 {summary['p99_ms']:.1f} ms | |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    with ExitStack() as stack:
        port = free_port()
        start(stack, "gc-upstream", [sys.executable, str(BENCH / "upstream.py"),
              "--port", str(port), "--lifetime", str(int(4 * args.duration + 300))],
              {}, int(4 * args.duration + 300))  # fmt: skip
        upstream = f"http://127.0.0.1:{port}/v1"
        wait_ready(f"{upstream}/chat/completions")
        rows = [
            measure("no-freeze", upstream, args.duration, {"BENCH_NO_FREEZE": "1"}),
            measure("freeze", upstream, args.duration, {}),
        ]
    print("| server | generation | collections | total | median | max |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
