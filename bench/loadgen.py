"""A small HTTP/1.1 load generator: asyncio, keep-alive, loopback only, bounded in time.

Each of ``concurrency`` connections sends the same POST again and again for ``duration``
seconds (after a short warm-up) and records, per request: the whole latency, the time to
the first token (streams: the first ``t<ns>`` token of bench/upstream.py; otherwise the
first byte), and for streams each token's transit time, from the upstream writing it to
this process reading it (one monotonic clock for all processes).

    python bench/loadgen.py http://127.0.0.1:9100/v1/chat/completions --stream -c 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TOKEN_RE = re.compile(rb"t(\d+) ")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Samples:
    latency_ns: list[int] = field(default_factory=list)
    first_ns: list[int] = field(default_factory=list)
    chunk_ns: list[int] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, float]:
        ms = 1e-6
        out = {
            "requests": len(self.latency_ns),
            "errors": self.errors,
            "rps": len(self.latency_ns) / self.elapsed_s if self.elapsed_s else 0.0,
            "p50_ms": percentile(self.latency_ns, 50) * ms,
            "p99_ms": percentile(self.latency_ns, 99) * ms,
            "ttft_p50_ms": percentile(self.first_ns, 50) * ms,
            "ttft_p99_ms": percentile(self.first_ns, 99) * ms,
        }
        if self.chunk_ns:
            out["chunk_p50_ms"] = percentile(self.chunk_ns, 50) * ms
            out["chunk_p99_ms"] = percentile(self.chunk_ns, 99) * ms
        return out


def percentile(values: list[int], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def build_request(url: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"host: {parts.netloc}",
        "content-type: application/json",
        "accept: */*",
        f"content-length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + payload


async def one_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, samples: Samples
) -> None:
    started = time.monotonic_ns()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    first = time.monotonic_ns()
    status = int(head.split(b" ", 2)[1])
    lowered = head.lower()
    tokens: list[int] = []
    pending = b""
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            now = time.monotonic_ns()
            pending += data[:-2]
            end = 0
            for match in TOKEN_RE.finditer(pending):
                tokens.append(now - int(match.group(1)))
                if len(tokens) == 1:
                    first = now
                end = match.end()
            pending = pending[end:]
    else:
        length = int(re.search(rb"content-length: *(\d+)", lowered).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
    if status != 200:
        samples.errors += 1
        return
    samples.latency_ns.append(time.monotonic_ns() - started)
    samples.first_ns.append(first - started)
    samples.chunk_ns.extend(tokens)


async def connection(
    host: str, port: int, request: bytes, warmup_until: int, stop_at: int, samples: Samples
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    scratch = Samples()
    try:
        while time.monotonic_ns() < warmup_until:
            await one_request(reader, writer, request, scratch)
        while time.monotonic_ns() < stop_at:
            await one_request(reader, writer, request, samples)
    finally:
        writer.close()


async def run(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.3,
) -> dict[str, float]:
    """Load ``url`` for ``duration`` seconds (after ``warmup``); a summary of what it saw."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"loadgen: {parts.hostname} is not a loopback address")
    request = build_request(url, body, headers)
    samples = Samples()
    start = time.monotonic_ns()
    warmup_until = start + int(warmup * 1e9)
    stop_at = warmup_until + int(duration * 1e9)
    tasks = [
        connection(parts.hostname, parts.port or 80, request, warmup_until, stop_at, samples)
        for _ in range(concurrency)
    ]
    try:
        # bounded: a hung target ends the run, it never holds it
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=warmup + duration + 30)
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        samples.errors += 1
        print(f"loadgen: {url}: {type(exc).__name__}: {exc}")
    samples.elapsed_s = (time.monotonic_ns() - warmup_until) / 1e9
    return samples.summary()


def chat_body(model: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a friendly French tutor."},
            {"role": "user", "content": "Bonjour ! Comment dit-on 'benchmark' en français ?"},
        ],
        "max_tokens": 64,
        "temperature": 0,
        "stream": stream,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="HTTP/1.1 load on a loopback URL")
    parser.add_argument("url")
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--key", help="bearer key")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=3.0)
    args = parser.parse_args()
    auth = {"authorization": f"Bearer {args.key}"} if args.key else {}
    summary = asyncio.run(
        run(
            args.url,
            chat_body(args.model, args.stream),
            auth,
            concurrency=args.concurrency,
            duration=args.duration,
        )
    )
    print(json.dumps(summary, indent=2))
