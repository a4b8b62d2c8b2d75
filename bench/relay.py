"""The floor of any gateway: a TCP relay that copies bytes both ways and does nothing else.

No HTTP parsing, no auth, no JSON: each client connection gets its own upstream
connection and every read is written straight to the other side (on uvloop when it is
importable). Whatever latency this adds over the upstream direct is what one more
process hop costs on this machine; no gateway can add less.

    python bench/relay.py --port 9300 --upstream-port 9100 [--lifetime 1800]
"""

from __future__ import annotations

import argparse
import asyncio
import socket


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, port: int) -> None:
    up_r, up_w = await asyncio.open_connection("127.0.0.1", port)
    for stream in (client_w, up_w):
        stream.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))


async def main(port: int, upstream_port: int, lifetime: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: relay(r, w, upstream_port), "127.0.0.1", port, backlog=1024
    )
    print(f"relay on 127.0.0.1:{port} -> 127.0.0.1:{upstream_port}")
    async with server:
        await asyncio.sleep(lifetime)  # stops by itself, whatever happens to its parent


def run(coroutine) -> None:  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coroutine)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a byte-copying TCP relay (loopback)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--lifetime", type=float, default=1800, help="seconds before it exits")
    args = parser.parse_args()
    run(main(args.port, args.upstream_port, args.lifetime))
