"""A fast OpenAI-compatible upstream on loopback: raw asyncio, HTTP/1.1 keep-alive.

``POST .../chat/completions`` answers at once, or with ``"stream": true`` sends
``--chunks`` ``chat.completion.chunk`` events ``--pace-ms`` apart (chunked encoding),
then a usage chunk and ``data: [DONE]``. Each streamed token is ``t<ns> `` where ``<ns>``
is ``time.monotonic_ns()`` when the upstream wrote it: the monotonic clock is one clock
for every process on Linux, so the client can tell how long each chunk took to reach it,
through whatever gateway sits between.

    python bench/upstream.py --port 9100 [--chunks 20] [--pace-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
ANSWER = "Bonjour ! " + "Voici une réponse de taille ordinaire, " * 5
USAGE = {"prompt_tokens": 24, "completion_tokens": 64, "total_tokens": 88}
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }
).encode()
CHUNK_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-model","choices":[{"index":0,"delta":'
)
CHUNK_TAIL = b',"finish_reason":null,"logprobs":null}]}\n\n'


def frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def token_frame(first: bool) -> bytes:
    role = b'"role":"assistant",' if first else b""
    text = b'{%s"content":"t%d "}' % (role, time.monotonic_ns())
    return frame(CHUNK_HEAD + text + CHUNK_TAIL)


END_FRAMES = (
    frame(
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop",'
        b'"logprobs":null}]}\n\n'
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"bench-model","choices":[],"usage":' + json.dumps(USAGE).encode() + b"}\n\n"
        b"data: [DONE]\n\n"
    )
    + b"0\r\n\r\n"
)


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks: int, pace: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, header_block = head.partition(b"\r\n")
            length = 0
            for line in header_block.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            path = request_line.split(b" ")[1] if b" " in request_line else b""
            if not path.split(b"?")[0].endswith(b"/chat/completions"):
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            elif STREAM_RE.search(body):
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
                )
                for index in range(chunks):
                    if index:
                        await asyncio.sleep(pace)
                    writer.write(token_frame(first=index == 0))
                    await writer.drain()
                writer.write(END_FRAMES)
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(COMPLETION), COMPLETION)
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, chunks: int, pace_ms: float, lifetime: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: serve_connection(r, w, chunks, pace_ms / 1000),
        "127.0.0.1",
        port,
        backlog=1024,
    )
    print(f"upstream on http://127.0.0.1:{port}/v1 ({chunks} chunks, {pace_ms} ms apart)")
    async with server:
        await asyncio.sleep(lifetime)  # stops by itself, whatever happens to its parent


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a fast OpenAI-compatible upstream")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--pace-ms", type=float, default=5.0)
    parser.add_argument("--lifetime", type=float, default=1800, help="seconds before it exits")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.chunks, args.pace_ms, args.lifetime))
