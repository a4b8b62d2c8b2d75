"""CPU per request of HTTP clients against bench/upstream.py: what a gateway pays upstream.

    python bench/clients.py [--requests 2000] [--loop uvloop]

Starts its own upstream on loopback; measures a bare asyncio HTTP/1.1 exchange (the
floor), llm-api's client (``platform/remote_client.py``: aiohttp with the backends'
settings and caps, what the remote backends use), plain aiohttp, and httpx. An older tree
through ``PYTHONPATH`` (bench/tree_at.sh) measures the client it had instead: before
aiohttp, the hand-written ``platform/http_client.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from servers import free_port, start, wait_ready

BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}


async def cpu_per_request(send, n: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(max(100, n // 10)):
        await send()
    started = time.process_time()
    for _ in range(n):
        await send()
    return (time.process_time() - started) / n


async def with_httpx(url: str, n: int) -> float:
    import httpx

    async with httpx.AsyncClient() as client:

        async def send() -> None:
            (await client.post(url, json=BODY)).json()

        return await cpu_per_request(send, n)


async def with_asyncio(url: str, n: int) -> float:
    port = int(url.split(":")[2].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(BODY).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(payload), payload)
    )

    async def send() -> None:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        json.loads(await reader.readexactly(length))

    try:
        return await cpu_per_request(send, n)
    finally:
        writer.close()


async def with_llm_api(url: str, n: int) -> float:
    try:
        from llm_api.platform.remote.client import Timeout, UpstreamClient

        client = UpstreamClient(Timeout(read=120.0, connect=10.0))
    except ImportError:  # a tree from before aiohttp: its own client
        from llm_api.platform.http_client import HttpClient  # type: ignore[import-not-found]

        client = HttpClient()

    async def send() -> None:
        (await client.post(url, json=BODY)).json()

    try:
        return await cpu_per_request(send, n)
    finally:
        await client.aclose()


async def with_aiohttp(url: str, n: int) -> float:
    import aiohttp

    async with aiohttp.ClientSession() as session:

        async def send() -> None:
            async with session.post(url, json=BODY) as response:
                await response.json()

        return await cpu_per_request(send, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default="asyncio", help="uvloop: as `serve` runs"
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        runner = uvloop.run
    else:
        runner = asyncio.run
    clients = {
        "bare asyncio": with_asyncio,
        "llm-api": with_llm_api,
        "httpx": with_httpx,
        "aiohttp": with_aiohttp,
    }
    with ExitStack() as stack:
        port = free_port()
        upstream = [sys.executable, str(Path(__file__).parent / "upstream.py"), "--port", str(port)]
        start(stack, "clients-upstream", [*upstream, "--lifetime", "300"], {}, 300)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wait_ready(url)
        for name, client in clients.items():
            try:
                seconds = runner(client(url, args.requests))
            except ImportError:
                print(f"{name:<14} not installed here")
                continue
            print(f"{name:<14} {seconds * 1e6:7.0f} µs CPU per request")


if __name__ == "__main__":
    main()
