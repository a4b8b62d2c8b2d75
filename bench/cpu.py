"""CPU time the app spends per request: in process, raw ASGI calls, an instant AI binding.

What Workers bills and limits is CPU time, not wall time, and a Worker spends it in
exactly this code (routing, middleware, validation, encoding), so this is the proxy:
``time.process_time()`` over batches of requests after a warm-up; the cheapest batch.

    python bench/cpu.py [--requests 2000] [--chunks 100] [--profile bench/results/cpu.prof]

Streams are measured at 1 and at ``--chunks`` + 1 chunks; the difference per chunk is
the cost of one streamed chunk, the rest is the per-request cost of a stream.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from llm_api.app import create_app
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore

try:  # the layout of issue 13
    from llm_api.binding.protocol import Platform, fixed_platform
    from llm_api.platform.local.limiter import InProcessLimiter
    from llm_api.sse import DONE_FRAME, encode_data
except ImportError:  # an older tree (cpu_compare.py measures several)
    from llm_api.platform.base import Platform, fixed_platform  # type: ignore[no-redef]
    from llm_api.streaming import DONE_FRAME, encode_data  # type: ignore[no-redef]

    from llm_api.ratelimit import InProcessLimiter  # type: ignore[attr-defined,no-redef]

ANSWER = "Bonjour ! Je m'appelle Claude. Comment puis-je vous aider aujourd'hui ?"
USAGE = {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}
MESSAGES = [
    {"role": "system", "content": "You are a friendly French tutor."},
    {"role": "user", "content": "Bonjour, comment tu t'appelles ?"},
]


class InstantAI:
    """Answers at once; a stream is ``chunks`` pre-encoded token frames, usage, [DONE]."""

    engine = "instant"

    def __init__(self) -> None:
        self.chunks = 1
        piece = encode_data({"response": "mot "})
        self._frames: dict[int, list[bytes]] = {}
        self._piece = piece

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        if not inputs.get("stream"):
            return {"response": ANSWER, "usage": USAGE}
        frames = self._frames.get(self.chunks)
        if frames is None:
            final = encode_data({"response": "", "usage": USAGE})
            frames = self._frames[self.chunks] = [self._piece] * self.chunks + [final, DONE_FRAME]
        return _aiter(frames)


async def _aiter(frames: list[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


BATCHES = 15
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def request_runner(app: ASGIApp, key: str) -> Callable[[str, dict[str, Any]], Awaitable[int]]:
    """One POST through the app, as uvicorn would deliver it; returns the body size."""
    headers = [
        (b"host", b"127.0.0.1:8787"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
        (b"accept", b"*/*"),
        (b"user-agent", b"bench"),
    ]

    async def post(path: str, payload: dict[str, Any]) -> int:
        body = json.dumps(payload).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8787),
            "state": {},
        }
        sent = False
        done = asyncio.Event()
        size = 0
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal size, status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        return size

    return post


SCENARIOS: dict[str, tuple[str, dict[str, Any], int]] = {
    # name: (path, body, stream chunks)
    "native generate": ("/api/llm/generate", {"prompt": "Say hello in French."}, 0),
    "openai chat completion": (
        "/v1/chat/completions",
        {"model": "llama-3.1-8b-instruct", "messages": MESSAGES, "max_tokens": 64},
        0,
    ),
    "openai stream": (
        "/v1/chat/completions",
        {"model": "llama-3.1-8b-instruct", "messages": MESSAGES, "stream": True},
        1,
    ),
    "native stream": ("/api/llm/generate", {"prompt": "Say hello.", "stream": True}, 1),
}


async def cpu_per_request(
    post: Callable[[str, dict[str, Any]], Awaitable[int]], path: str, body: dict[str, Any], n: int
) -> float:
    gc.collect()
    started = time.process_time()
    for _ in range(n):
        await post(path, body)
    return (time.process_time() - started) / n


async def measure(
    post: Callable[[str, dict[str, Any]], Awaitable[int]],
    ai: InstantAI,
    scenario: tuple[str, dict[str, Any], int],
    requests: int,
    chunks: int,
) -> tuple[float, float | None]:
    """CPU seconds per request, and per extra streamed chunk: the minimum over batches.

    The minimum, as ``timeit`` advises: on a shared machine noise only ever adds time.
    For a stream, batches of 1-chunk and (chunks + 1)-chunk streams alternate."""
    path, body, streamed = scenario
    ai.chunks = 1
    for _ in range(max(50, requests // 10)):  # warm-up: caches, lazy imports
        await post(path, body)
    per_request, per_long_stream = [], []
    batch = max(20, requests // BATCHES)
    for _ in range(BATCHES):
        ai.chunks = 1
        per_request.append(await cpu_per_request(post, path, body, batch))
        if streamed:
            ai.chunks = chunks + 1
            per_long_stream.append(await cpu_per_request(post, path, body, max(10, batch // 10)))
    one = min(per_request)
    return one, (min(per_long_stream) - one) / chunks if streamed else None


def build() -> tuple[ASGIApp, InstantAI, str]:
    ai = InstantAI()
    key, record = new_key("bench", rpm=1_000_000)
    platform = Platform(
        ai=ai,
        settings=Settings(),
        keys=MemoryKeyStore([record]),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
    )
    return create_app(fixed_platform(platform)), ai, key


async def limiter_hit(busy: int = 60_000, hits: int = 200) -> float:
    """CPU seconds of one rate-limit check for a key with ``busy`` requests in its window
    (1,000 requests per second): what every request of a busy key pays."""
    limiter = InProcessLimiter()
    start = time.monotonic()
    limiter._logs["busy"] = [start - 60 + i * 60 / busy for i in range(busy)]  # a full minute
    started = time.process_time()
    for i in range(hits):
        await limiter.hit("busy", 10 * busy, now=start + i / 1000)
    return (time.process_time() - started) / hits


async def run_all(requests: int, chunks: int, only: str | None) -> dict[str, float]:
    results: dict[str, float] = {}
    if not only or only in "rate limit":
        results["rate limit check, busy key (60k in window)"] = await limiter_hit()
    for name, scenario in SCENARIOS.items():
        if only and only not in name:
            continue
        app, ai, key = build()  # a fresh limiter log per scenario, so none pays for another
        one, chunk = await measure(request_runner(app, key), ai, scenario, requests, chunks)
        results[name] = one
        if chunk is not None:
            results[f"{name}: per chunk"] = chunk
    return results


async def profile_run(requests: int, chunks: int, out: str, only: str | None) -> None:
    profiler = cProfile.Profile()
    for name, (path, body, streamed) in SCENARIOS.items():
        if only and only not in name:
            continue
        app, ai, key = build()
        post = request_runner(app, key)
        ai.chunks = chunks + 1 if streamed else 0
        for _ in range(50):
            await post(path, body)
        profiler.enable()
        for _ in range(requests // 10 if streamed else requests):
            await post(path, body)
        profiler.disable()
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print_areas(stats)
    stats.strip_dirs().sort_stats("tottime").print_stats(20)


AREAS = [  # (area, substrings of a file path), first match wins
    ("rate limiter (llm_api.ratelimit)", ["llm_api/ratelimit"]),
    ("SSE parse/encode (llm_api.sse, binding.events, OpenAI frames, http.streaming)",
     ["llm_api/sse", "llm_api/binding/events", "llm_api/services/openai",
      "llm_api/http/streaming",
      "llm_api/streaming", "llm_api/services/chat_format", "llm_api/routes/sse"]),  # older
    ("generation service + binding wrappers (resilient, accounted, answers)",
     ["llm_api/services/generation", "llm_api/binding/",
      "llm_api/resilience", "llm_api/accounting"]),  # older
    ("our middleware (auth, cors, request id, body limits, disconnect)",
     ["llm_api/http/auth", "llm_api/http/cors", "llm_api/http/request_id",
      "llm_api/http/body_limits", "llm_api/http/scope", "llm_api/http/disconnect",
      "llm_api/security", "llm_api/cors", "llm_api/middleware", "llm_api/body_limits",
      "llm_api/http_headers",  # older
      "llm_api/keys"]),
    ("other llm_api (routes, dependencies, catalog, errors)", ["llm_api/"]),
    ("FastAPI / Starlette (routing, dependencies, responses)", ["fastapi/", "starlette/"]),
    ("pydantic", ["pydantic"]),
    ("json", ["json/"]),
    ("asyncio / anyio / threads (event loop, tasks, thread hops)",
     ["asyncio/", "anyio/", "selectors", "threading", "concurrent/", "queue.py"]),
    ("the bench harness", ["bench/cpu.py"]),
]  # fmt: skip


def area_of(filename: str) -> str:
    for area, needles in AREAS:
        if any(needle in filename for needle in needles):
            return area
    return "other"


def print_areas(stats: pstats.Stats) -> None:
    """Self time per area; a C built-in's time goes to the area of the code calling it."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, self_time, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:
            for (caller_file, _, _), caller_stats in callers.items():
                area = area_of(caller_file)
                totals[area] = totals.get(area, 0.0) + caller_stats[2]
        else:
            totals[area_of(filename)] = totals.get(area_of(filename), 0.0) + self_time
    everything = sum(totals.values())
    print(f"{'area':<60} {'self time':>9}")
    for area, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{area:<60} {seconds / everything:>8.1%}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--profile", help="write a cProfile of all scenarios to this file")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    args = parser.parse_args()
    if args.profile:
        asyncio.run(profile_run(args.requests, args.chunks, args.profile, args.only))
        return
    results = asyncio.run(run_all(args.requests, args.chunks, args.only))
    print(f"{'scenario':<44} {'CPU per request':>16}")
    for name, seconds in results.items():
        print(f"{name:<44} {seconds * 1e6:>13.0f} µs")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({name: round(s * 1e6, 1) for name, s in results.items()}, out, indent=2)


if __name__ == "__main__":
    main()
