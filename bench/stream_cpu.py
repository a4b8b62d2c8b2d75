"""CPU per streamed chunk on the upstream side: the openai backend, behind the app's
timeouts (``ResilientAI``), reading an OpenAI stream from a loopback server.

Everything runs in this one process on uvloop — the server writing the chunks, the
backend's HTTP client reading and re-framing them — so ``time.process_time()`` sees all
of it; the server's share is the same for every tree measured. Run it once per tree:

    python bench/stream_cpu.py --label now
    PYTHONPATH=<older tree>/src python bench/stream_cpu.py --label before
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

try:  # the layout of issue 13
    from llm_api.binding.resilient import CallPolicy, ResilientAI
    from llm_api.platform.remote.openai import OpenAICompatibleBackend
except ImportError:  # an older tree (the docstring's "before")
    from llm_api.platform.remote_openai import OpenAICompatibleBackend  # type: ignore[no-redef]
    from llm_api.resilience import CallPolicy, ResilientAI  # type: ignore[no-redef]

TOKEN = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}\n\n'
)
END = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


def frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks: int) -> None:
    """Each request: a chunked SSE answer of ``chunks`` tokens, one write (and one event
    loop turn) per token, so each arrives alone as a paced stream's would."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")  # fmt: skip
            for _ in range(chunks):
                writer.write(frame(TOKEN))
                await writer.drain()
                await asyncio.sleep(0)
            writer.write(frame(END) + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def measure(chunks: int, batches: int) -> float:
    server = await asyncio.start_server(lambda r, w: upstream(r, w, chunks), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{port}/v1", model="m")
    ai = ResilientAI(backend, CallPolicy(retries=0))
    inputs = {"messages": [{"role": "user", "content": "x"}], "stream": True}

    async def one_stream() -> None:
        async for _ in await ai.run("m", inputs):
            pass

    try:
        for _ in range(3):
            await one_stream()
        best = float("inf")
        for _ in range(batches):  # the cheapest batch, as timeit advises
            started = time.process_time()
            for _ in range(5):
                await one_stream()
            best = min(best, (time.process_time() - started) / 5 / chunks)
        return best
    finally:
        await backend.aclose()
        server.close()
        await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="now")
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--batches", type=int, default=7)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        seconds = runner.run(measure(args.chunks, args.batches))
    print(f"{args.label:<10} {seconds * 1e6:6.1f} µs CPU per streamed chunk")


if __name__ == "__main__":
    main()
