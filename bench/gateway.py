"""Gateway overhead: the upstream direct, `llm-api serve --backend openai`, LiteLLM's proxy.

Starts bench/upstream.py, a byte-copying relay in front of it (bench/relay.py: the floor
of any gateway), our server and LiteLLM's proxy on loopback, then runs rounds;
each round loads every target with every scenario, the targets' order rotating from round
to round so drift (other work on this machine) falls on all of them alike. Figures are
medians over rounds; "added" is a target's figure minus the direct one *of the same
round*. Every process here is started under ``timeout`` and stops by itself.

    python bench/gateway.py [--rounds 5] [--duration 3] [--chunks 20] [--pace-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

# bench/ is this script's folder, so its modules import by name
from loadgen import chat_body, run
from servers import (
    LLM_API,
    add_variant_argument,
    cpu_seconds,
    create_key,
    free_port,
    parse_variant,
    start,
    wait_ready,
)

BENCH = Path(__file__).resolve().parent
LITELLM = BENCH / ".venv-litellm" / "bin" / "litellm"
CATALOG_MODEL = "llama-3.1-8b-instruct"
LITELLM_KEY = "sk-bench-master"
SCENARIOS = [  # (name, stream, concurrency)
    ("non-stream c=1", False, 1),
    ("non-stream c=16", False, 16),
    ("stream c=1", True, 1),
    ("stream c=16", True, 16),
]


@dataclass
class Target:
    name: str
    url: str
    model: str
    headers: dict[str, str]
    ready_url: str
    process: subprocess.Popen[bytes] | None = None  # whose CPU time is reported


def serve_ours(stack: ExitStack, name: str, upstream: str, life: int, **env: str) -> Target:
    state = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-state-"))
    key = create_key(state)
    port = free_port()
    process = start(stack, name, [str(LLM_API), "serve", "--backend", "openai",
                    "--port", str(port), "--log-level", "warning", "--state-dir", state,
                    "--static-dir", ""],
                    {"OPENAI_BASE_URL": upstream, "OPENAI_MODEL": "bench-model", **env},
                    life)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {"authorization": f"Bearer {key}"}
    return Target(name, f"{base}/v1/chat/completions", CATALOG_MODEL, headers,
                  f"{base}/health", process)  # fmt: skip


def targets(stack: ExitStack, args: argparse.Namespace) -> list[Target]:
    """Start everything, wait until it answers."""
    life = int(args.rounds * len(SCENARIOS) * 4 * (args.duration + 2) + 300)
    up = free_port()
    upstream = f"http://127.0.0.1:{up}/v1"
    start(stack, "upstream", [sys.executable, str(BENCH / "upstream.py"), "--port", str(up),
          "--chunks", str(args.chunks), "--pace-ms", str(args.pace_ms),
          "--lifetime", str(life)], {}, life)  # fmt: skip
    direct = f"{upstream}/chat/completions"
    relay_port = free_port()
    relay = start(stack, "relay", [sys.executable, str(BENCH / "relay.py"),
                  "--port", str(relay_port), "--upstream-port", str(up),
                  "--lifetime", str(life)], {}, life)  # fmt: skip
    relayed = f"http://127.0.0.1:{relay_port}/v1/chat/completions"
    found = [
        Target("direct", direct, "bench-model", {}, direct),
        Target("relay", relayed, "bench-model", {}, relayed, relay),
        serve_ours(stack, "llm-api", upstream, life),
    ]
    for variant in args.variant:  # the same server, other code importable or other settings
        name, env = parse_variant(variant)
        found.append(serve_ours(stack, name, upstream, life, **env))
    if LITELLM.exists() and not args.no_litellm:
        port = free_port()
        litellm_env = {
            "BENCH_UPSTREAM_URL": upstream,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "WARNING",
            "DISABLE_ADMIN_UI": "True",
            "LITELLM_TELEMETRY": "False",
        }
        process = start(stack, "litellm", [str(LITELLM), "--config",
                        str(BENCH / "config" / "litellm.yaml"), "--host", "127.0.0.1",
                        "--port", str(port)], litellm_env, life)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        found.append(Target("litellm", f"{base}/v1/chat/completions", CATALOG_MODEL,
                            {"authorization": f"Bearer {LITELLM_KEY}"},
                            f"{base}/health/liveliness", process))  # fmt: skip
    else:
        print("gateway bench: no LiteLLM (make bench creates bench/.venv-litellm)")
    for target in found:
        wait_ready(target.ready_url)
    return found


def measure(args: argparse.Namespace) -> dict[str, dict[str, list[dict]]]:
    """``{scenario: {target: [summary per round]}}``; summaries carry the server's CPU."""
    results: dict[str, dict[str, list[dict]]] = {name: {} for name, _, _ in SCENARIOS}
    with ExitStack() as stack:
        found = targets(stack, args)
        for round_index in range(args.rounds):
            shift = round_index % len(found)
            for scenario, stream, concurrency in SCENARIOS:
                for target in found[shift:] + found[:shift]:
                    cpu = cpu_seconds(target.process)
                    summary = asyncio.run(
                        run(target.url, chat_body(target.model, stream), target.headers,
                            concurrency=concurrency, duration=args.duration)
                    )  # fmt: skip
                    summary["cpu_ms_per_request"] = (
                        (cpu_seconds(target.process) - cpu) * 1000 / summary["requests"]
                        if target.process and summary["requests"]
                        else 0.0
                    )  # includes the warm-up's requests: a slight overestimate, for all alike
                    results[scenario].setdefault(target.name, []).append(summary)
                    print(f"round {round_index + 1} {scenario:<16} {target.name:<15} "
                          f"{summary['rps']:8.0f} req/s  p50 {summary['p50_ms']:7.2f} ms  "
                          f"p99 {summary['p99_ms']:7.2f} ms  "
                          f"cpu {summary['cpu_ms_per_request']:6.2f} ms/req  "
                          f"errors {summary['errors']}", flush=True)  # fmt: skip
    return results


def median_of(rounds: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in rounds)


def added(rounds: list[dict], direct: list[dict], field: str) -> float:
    return statistics.median(r[field] - d[field] for r, d in zip(rounds, direct, strict=True))


LATENCIES = ["p50_ms", "p99_ms"]
STREAM_LATENCIES = ["ttft_p50_ms", "ttft_p99_ms", "chunk_p50_ms", "chunk_p99_ms"]


def report(results: dict[str, dict[str, list[dict]]]) -> str:
    """Markdown: per scenario, medians over rounds, then the latency added over direct."""
    lines = []
    for scenario, by_target in results.items():
        fields = LATENCIES + (STREAM_LATENCIES if scenario.startswith("stream") else [])
        lines += [f"\n#### {scenario}\n", "| target | req/s | server CPU ms/req | "
                  + " | ".join(fields) + " |", "|---" * (3 + len(fields)) + "|"]  # fmt: skip
        for name, rounds in by_target.items():
            cells = [
                f"{median_of(rounds, 'rps'):.0f}",
                f"{median_of(rounds, 'cpu_ms_per_request'):.2f}",
            ]
            cells += [f"{median_of(rounds, f):.2f}" for f in fields]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        direct = by_target["direct"]
        lines += ["", "| added over direct | " + " | ".join(fields) + " |",
                  "|---" * (1 + len(fields)) + "|"]  # fmt: skip
        for name, rounds in by_target.items():
            if name != "direct":
                cells = [f"{added(rounds, direct, f):+.2f}" for f in fields]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for ours in [name for name in by_target if name.startswith("llm-api")]:
            if "litellm" in by_target:
                cells = []
                for f in fields:
                    mine = added(by_target[ours], direct, f)
                    theirs = added(by_target["litellm"], direct, f)
                    cells.append(f"{mine / theirs:.2f}" if theirs > 0 else "n/a")
                lines.append(f"| ratio {ours} / litellm | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--chunks", type=int, default=20, help="chunks per upstream stream")
    parser.add_argument("--pace-ms", type=float, default=5.0, help="upstream pause per chunk")
    parser.add_argument("--no-litellm", action="store_true")
    add_variant_argument(parser, "one more llm-api target")
    parser.add_argument("--json", help="write every round's figures to this file")
    args = parser.parse_args()
    results = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(report(results))


if __name__ == "__main__":
    main()
