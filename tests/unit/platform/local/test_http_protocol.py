"""The local host's HTTP protocol limits (issue 12, finding 4), on uvicorn's protocol
driven with a fake transport; tests/e2e/test_hostile_client_e2e.py does the same
attacks over real sockets against ``llm-api serve``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from llm_api.platform.local import client_limits
from llm_api.platform.local import http_protocol as local_http
from llm_api.platform.local.client_limits import ClientLimits
from llm_api.platform.local.http_protocol import GuardedHttpToolsProtocol, uvicorn_options

#: tight limits, so that the timeouts are tested in fractions of a second
LIMITS = ClientLimits(
    max_header_bytes=1024,
    max_headers=10,
    header_timeout_s=0.1,
    body_timeout_s=0.1,
    body_deadline_s=0.4,
    max_connections=2,
)
WAIT_S = 3.0  # an upper bound on every wait below: the limits act far sooner


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = asyncio.Event()
        self.ended = asyncio.Event()  # closed, or half-closed after an answer
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8787), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.ended.is_set(), "written after close"
        self.written += data

    def close(self) -> None:
        self.closed.set()
        self.ended.set()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.ended.set()

    def finished(self) -> bool:
        return self.ended.is_set()

    abort = close

    def is_closing(self) -> bool:
        return self.closed.is_set()

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        head, _, body = bytes(self.written).partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines)
        return int(status_line.split()[1]), headers, body


App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def read_then_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, then answers 200 with its size."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def answer_401_at_once(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-length", b"2")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


class Connections:
    def __init__(self, app: App, limits: ClientLimits = LIMITS) -> None:
        self.config = uvicorn.Config(app, lifespan="off", **uvicorn_options(limits))
        self.config.load()
        self.state = ServerState()
        self.state.default_headers = list(self.config.encoded_headers)

    def open(self) -> tuple[GuardedHttpToolsProtocol, FakeTransport]:
        protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config,
            server_state=self.state,
            app_state={},
            _loop=asyncio.get_running_loop(),
        )
        transport = FakeTransport()
        protocol.connection_made(transport)
        return protocol, transport


async def ended(transport: FakeTransport) -> None:
    async with asyncio.timeout(WAIT_S):
        await transport.ended.wait()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def test_headers_over_the_size_limit_are_431_before_they_are_buffered(monkeypatch):
    monkeypatch.setattr(local_http, "LINGER_S", 0.05)

    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        protocol.data_received(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-long: ")
        sent = 0
        while not transport.finished() and sent < 10_000_000:
            protocol.data_received(b"a" * 700)  # one header line, never ending
            sent += 700
        assert sent <= 2 * LIMITS.max_header_bytes
        status, headers, body = transport.answer()
        assert status == 431
        assert headers["connection"] == "close"
        assert json.loads(body)["error"] == {
            "message": "Request line and headers are larger than 1024 bytes",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_headers_too_large",
        }
        assert not transport.closed.is_set()  # half-closed: the client can read the answer
        protocol.data_received(b"a" * 700)  # and what it still sends is dropped
        async with asyncio.timeout(WAIT_S):
            await transport.closed.wait()  # then closed, after a short linger

    run(test)


def test_more_headers_than_the_limit_is_431():
    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        lines = b"".join(b"x-%d: v\r\n" % n for n in range(11))
        protocol.data_received(b"GET /api/llm/models HTTP/1.1\r\n" + lines + b"\r\n")
        await ended(transport)
        status, _, body = transport.answer()
        assert (status, json.loads(body)) == (
            431,
            {"error": "Request has more than 10 headers"},
        )

    run(test)


def test_requests_within_the_limits_are_served_without_a_server_header():
    """Issue 12 (h): uvicorn sent ``server: uvicorn``."""

    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        lines = b"".join(b"x-%d: v\r\n" % n for n in range(8))  # 10 with host and length
        protocol.data_received(
            b"POST /api/llm/generate HTTP/1.1\r\nhost: x\r\n" + lines + b"content-length: 3\r\n\r\n"
        )
        protocol.data_received(b"abc")
        async with asyncio.timeout(WAIT_S):
            while not transport.written:  # noqa: ASYNC110 - the app writes through the protocol
                await asyncio.sleep(0)
        status, headers, body = transport.answer()
        assert (status, json.loads(body)) == (200, {"size": 3})
        assert "server" not in headers
        assert not transport.is_closing()  # kept alive

    run(test)


def test_headers_that_arrive_too_slowly_are_408():
    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        protocol.data_received(b"GET /api/v1/llm/chat HTTP/1.1\r\nhost: x\r\n")
        started = asyncio.get_running_loop().time()
        while not transport.finished():
            protocol.data_received(b"x-drip: 1\r\n")  # a header every 10 ms, never the end
            await asyncio.sleep(0.01)
        took = asyncio.get_running_loop().time() - started
        assert LIMITS.header_timeout_s <= took < LIMITS.header_timeout_s + 1
        status, _, body = transport.answer()
        assert status == 408
        assert json.loads(body)["error"]["code"] == "REQUEST_TIMEOUT"

    run(test)


def test_an_idle_connection_is_closed_without_an_answer():
    async def test() -> None:
        _, transport = Connections(read_then_answer).open()
        await ended(transport)
        assert transport.written == b""

    run(test)


def test_a_body_that_stalls_is_408():
    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        protocol.data_received(
            b"POST /api/llm/generate HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"
        )
        await ended(transport)
        status, _, body = transport.answer()
        assert status == 408
        assert json.loads(body) == {"error": "Request body did not arrive with no pause over 0.1s"}

    run(test)


def test_a_body_that_drips_is_408_at_the_deadline():
    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        protocol.data_received(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n"
        )
        started = asyncio.get_running_loop().time()
        while not transport.finished():
            protocol.data_received(b"a")  # well within the pause limit, far too slow overall
            await asyncio.sleep(0.02)
        took = asyncio.get_running_loop().time() - started
        assert LIMITS.body_deadline_s <= took < LIMITS.body_deadline_s + 1
        status, _, body = transport.answer()
        assert status == 408
        assert json.loads(body)["error"]["message"] == "Request body did not arrive within 0.4s"

    run(test)


def test_a_request_beyond_the_connection_limit_is_503():
    async def test() -> None:
        connections = Connections(read_then_answer)
        held = [connections.open() for _ in range(LIMITS.max_connections)]
        protocol, transport = connections.open()
        protocol.data_received(b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
        await ended(transport)
        status, headers, body = transport.answer()
        assert status == 503
        assert headers["retry-after"] == "1"
        assert json.loads(body)["error"]["code"] == "server_overloaded"
        # a flood beyond twice the limit is not even answered
        flood = [connections.open() for _ in range(LIMITS.max_connections)]
        assert [t.is_closing() for _, t in flood] == [False] * (LIMITS.max_connections - 1) + [True]
        assert flood[-1][1].written == b""
        for protocol, _ in [*held, *flood]:
            protocol.connection_lost(None)

    run(test)


def test_a_body_answered_before_it_arrived_is_not_waited_for(monkeypatch):
    monkeypatch.setattr(local_http, "DRAIN_AFTER_ANSWER_S", 0.05)

    async def test() -> None:
        limits = replace(LIMITS, body_timeout_s=10, body_deadline_s=10)
        protocol, transport = Connections(answer_401_at_once, limits).open()
        protocol.data_received(
            b"POST /admin/keys HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n{"
        )
        while not transport.finished():
            protocol.data_received(b" " * 1000)  # what a client still sending would do
            await asyncio.sleep(0.01)
        status, _, _ = transport.answer()
        assert status == 401
        assert (
            protocol.cycle.body == b""
        )  # what came before the answer was let go, the rest dropped

    run(test)


@pytest.mark.parametrize(
    ("flag", "value", "field", "expected"),
    [
        ("--max-header-bytes", "8192", "max_header_bytes", 8192),
        ("--header-timeout", "2.5", "header_timeout_s", 2.5),
        ("--max-connections", "10", "max_connections", 10),
    ],
)
def test_each_limit_is_a_flag_and_a_variable(flag, value, field, expected):
    from llm_api.cli import build_parser
    from llm_api.settings import ServeSettings, load

    variable = ServeSettings.model_fields[field].alias
    from_flag = vars(build_parser().parse_args(["serve", flag, value]))
    for flags, env in ((from_flag, {}), ({}, {variable: value})):
        limits = client_limits.limits_of(load(ServeSettings, env, flags))
        assert getattr(limits, field) == expected
    assert client_limits.limits_of(ServeSettings()) == ClientLimits()


def test_a_body_answered_before_it_arrived_keeps_its_connection_alive_once_in():
    async def test() -> None:
        protocol, transport = Connections(answer_401_at_once).open()
        protocol.data_received(
            b"POST /admin/keys HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n{"
        )
        async with asyncio.timeout(WAIT_S):
            while not transport.written:  # noqa: ASYNC110 - the app writes through the protocol
                await asyncio.sleep(0)
        assert not transport.finished()
        protocol.data_received(b"        }")  # the rest of the body: dropped
        assert transport.answer()[0] == 401
        assert protocol.timeout_keep_alive_task is not None  # kept alive, as usual
        protocol.data_received(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")  # and reused
        async with asyncio.timeout(WAIT_S):
            while transport.written.count(b"HTTP/1.1 401") < 2:  # noqa: ASYNC110
                await asyncio.sleep(0)
        assert not transport.finished()

    run(test)


def test_pipelined_requests_keep_their_bodies():
    async def test() -> None:
        protocol, transport = Connections(read_then_answer).open()
        request = b"POST /api/llm/generate HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n"
        protocol.data_received(request + b"abc" + request + b"de")
        protocol.data_received(b"f")
        async with asyncio.timeout(WAIT_S):
            while transport.written.count(b'{"size": 3}') < 2:  # noqa: ASYNC110
                await asyncio.sleep(0)
        assert transport.written.count(b"HTTP/1.1 200 OK") == 2
        assert not transport.finished()

    run(test)
