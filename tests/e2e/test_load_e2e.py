"""A bounded load test over loopback: nothing dropped, nothing hanging, memory given back.

``llm-api serve --backend openai`` in front of the fast fake upstream in tests/ (a
backend that answers in milliseconds, in a process of its own) takes, from 50 clients:

1. 50 streams held open at once (the upstream sends one piece of each, then waits
   5 s), all finishing with ``[DONE]``;
2. 1,000 mixed requests, 50 in flight at a time: native generate (whole and streamed),
   OpenAI chat (whole and streamed), v1 chat, both model lists, 400s and 401s.

Every request must get exactly its expected status (streams their ``[DONE]``), and the
server's resident memory must come back to within 25 MB of where it was after warm-up.
The figures go to test-artifacts/load.json and to the end of pytest's output.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server, create_key, free_port, running_server

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "load.json"
IN_FLIGHT = 50  # simulated users, each with one connection and one request at a time
HELD_STREAMS = IN_FLIGHT
MIXED_REQUESTS = 1_000
WARM_UP_REQUESTS = 200
SETTLE_S = 2.0
RSS_TOLERANCE_MB = 25.0
MODEL = "llama-3.2-3b-instruct"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The fake upstream in a process of its own, so that it does not share this
    process's interpreter with the 50 clients; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_upstreams", "openai", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no upstream"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def gateway(upstream: str) -> Iterator[tuple[Server, str]]:
    env = {"OPENAI_BASE_URL": upstream, "LLM_API_LOG_LEVEL": "warning"}
    with running_server(["--backend", "openai"], env) as server:
        yield server, create_key(server.state_dir, "--rpm", "100000", name="load")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class Call:
    """One request of the mix and what must come back."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    status: int = 200
    stream: bool = False
    bad_key: bool = False


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


MIX = [
    Call("native generate", "POST", "/api/llm/generate", {"prompt": "hello", "model": MODEL}),
    Call(
        "native generate stream",
        "POST",
        "/api/llm/generate",
        {"prompt": "hello", "model": MODEL, "stream": True},
        stream=True,
    ),
    Call(
        "openai chat", "POST", "/v1/chat/completions", {"model": MODEL, "messages": messages("hi")}
    ),
    Call(
        "openai chat stream",
        "POST",
        "/v1/chat/completions",
        {"model": MODEL, "messages": messages("hi"), "stream": True},
        stream=True,
    ),
    Call("v1 chat", "POST", "/api/v1/llm/chat", {"messages": messages("hi"), "model": MODEL}),
    Call("openai models", "GET", "/v1/models"),
    Call("native models", "GET", "/api/llm/models"),
    Call("400 empty prompt", "POST", "/api/llm/generate", {"prompt": ""}, status=400),
    Call("400 no messages", "POST", "/v1/chat/completions", {"model": MODEL}, status=400),
    Call("401 bad key", "POST", "/v1/chat/completions", {"model": MODEL}, 401, bad_key=True),
]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


async def send(http: httpx.AsyncClient, key: str, call: Call, tally: Tally) -> None:
    token = "llmk_nobody_" + "x" * 40 if call.bad_key else key
    headers = {"authorization": f"Bearer {token}"}
    started = time.perf_counter()
    try:
        response = await http.request(call.method, call.path, json=call.body, headers=headers)
    except httpx.HTTPError as exc:
        tally.failures.append(f"{call.name}: {type(exc).__name__} {exc}")
        return
    tally.latencies.append(time.perf_counter() - started)
    tally.counts[call.name] = tally.counts.get(call.name, 0) + 1
    if response.status_code != call.status:
        tally.failures.append(f"{call.name}: {response.status_code} {response.text[:200]}")
    elif call.stream and not response.text.endswith("data: [DONE]\n\n"):
        tally.failures.append(f"{call.name}: the stream did not end with [DONE]")
    elif call.status == 200 and not call.stream:
        response.json()  # a whole JSON body
    elif call.status != 200 and "error" not in response.json():
        tally.failures.append(f"{call.name}: {call.status} without an error envelope")


async def mixed(clients: list[httpx.AsyncClient], key: str, count: int) -> tuple[Tally, float]:
    """``count`` requests of the mix, one in flight per client."""
    tally = Tally()
    calls = itertools.islice(itertools.cycle(MIX), count)

    async def user(http: httpx.AsyncClient) -> None:
        for call in calls:  # shared: each client takes the next request when it is free
            await send(http, key, call, tally)

    started = time.perf_counter()
    await asyncio.gather(*(user(http) for http in clients))
    return tally, time.perf_counter() - started


async def held_streams(clients: list[httpx.AsyncClient], key: str) -> list[str]:
    """Open a stream on every client and see each one's first piece (all open at once);
    the upstream holds them 5 s, then each must finish. Returns the failures."""
    failures: list[str] = []
    all_open = asyncio.Event()
    open_streams = 0
    headers = {"authorization": f"Bearer {key}"}

    async def one(http: httpx.AsyncClient, number: int) -> None:
        nonlocal open_streams
        body = {"model": MODEL, "messages": messages(f"gated stream {number}"), "stream": True}
        text, last = "", ""
        async with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            if r.status_code != 200:
                failures.append(f"held stream {number}: {r.status_code}")
                return
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                last = line
                if line.startswith("data: {"):
                    was_open = bool(text)
                    for choice in json.loads(line[6:])["choices"]:
                        text += choice["delta"].get("content") or ""
                    if text and not was_open:  # its first piece: this stream is open
                        open_streams += 1
                        if open_streams == HELD_STREAMS:
                            all_open.set()
        if last != "data: [DONE]":
            failures.append(f"held stream {number}: ended with {last!r}")
        elif text != "Hello from the fake upstream.":
            failures.append(f"held stream {number}: text {text!r}")

    tasks = [asyncio.create_task(one(http, number)) for number, http in enumerate(clients)]
    try:
        await asyncio.wait_for(all_open.wait(), timeout=4)  # before the upstream goes on
    except TimeoutError:
        failures.append(f"only {open_streams} of {HELD_STREAMS} streams were open at once")
    await asyncio.gather(*tasks)
    return failures


async def sampling_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak.append(rss_mb(pid))
        await asyncio.sleep(0.05)


async def run_with_peak(pid: int, work: Callable[[], Any]) -> tuple[Any, float]:
    samples: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sampling_rss(pid, samples, stop))
    try:
        result = await work()
    finally:
        stop.set()
        await sampler
    return result, max(samples, default=0.0)


def report(config: pytest.Config, line: str) -> None:
    """Write ``line`` to pytest's output whether or not output is captured (-s)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(line)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_load_nothing_dropped_and_memory_given_back(
    gateway: tuple[Server, str], request: pytest.FixtureRequest
) -> None:
    server, key = gateway

    async def scenario() -> dict[str, Any]:
        # One client (one connection) per simulated user, built once: a single client's
        # pool shared by 50 tasks, or a client built per request, would be what is measured.
        clients = [
            httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False)
            for _ in range(IN_FLIGHT)
        ]
        try:
            return await measured(clients)
        finally:
            for http in clients:
                await http.aclose()

    async def measured(clients: list[httpx.AsyncClient]) -> dict[str, Any]:
        warm, _ = await mixed(clients, key, WARM_UP_REQUESTS)
        assert not warm.failures, warm.failures[:5]
        await asyncio.sleep(SETTLE_S)
        before = rss_mb(server.pid)

        held_failures, held_peak = await run_with_peak(
            server.pid, lambda: held_streams(clients, key)
        )
        assert not held_failures, held_failures[:5]
        cpu_before = cpu_seconds(server.pid)
        (tally, elapsed), mixed_peak = await run_with_peak(
            server.pid, lambda: mixed(clients, key, MIXED_REQUESTS)
        )
        server_cores = (cpu_seconds(server.pid) - cpu_before) / elapsed
        assert not tally.failures, tally.failures[:5]
        assert len(tally.latencies) == MIXED_REQUESTS  # every request answered
        await asyncio.sleep(SETTLE_S)
        after = rss_mb(server.pid)
        return {
            "held_streams": HELD_STREAMS,
            "mixed_requests": MIXED_REQUESTS,
            "in_flight": IN_FLIGHT,
            "requests_per_s": round(MIXED_REQUESTS / elapsed, 1),
            "server_cpu_cores": round(server_cores, 2),  # 1.0: the server's one loop is full
            "latency_ms": {
                "p50": round(statistics.median(tally.latencies) * 1000, 1),
                "p99": round(percentile(tally.latencies, 0.99) * 1000, 1),
                "max": round(max(tally.latencies) * 1000, 1),
            },
            "rss_mb": {
                "before": round(before, 1),
                "peak_held_streams": round(held_peak, 1),
                "peak_mixed": round(mixed_peak, 1),
                "after": round(after, 1),
            },
            "mix": tally.counts,
        }

    figures = asyncio.run(scenario())
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    report(request.config, f"load test (test-artifacts/{ARTIFACT.name}): {json.dumps(figures)}")

    rss = figures["rss_mb"]
    assert rss["after"] - rss["before"] < RSS_TOLERANCE_MB, rss
