"""The remote backends' HTTP/1.1 client against scripted raw-socket servers.

Each server here is ``asyncio.start_server`` with a handler that reads one request head
(and its body) and writes exactly the bytes a test wants, so framing, keep-alive and
failure cases are exact rather than whatever a real server library happens to send.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import ssl
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from llm_api.platform import http_client
from llm_api.platform.http_client import HttpClient, Timeout, _ChunkedDecoder

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """One request: its line, lower-cased headers and body; None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = dict(f.split(": ", 1) for f in fields if f)
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return {"line": line, "headers": headers, "body": body}


@asynccontextmanager
async def scripted(handler: Handler, **server_args: Any):  # type: ignore[no-untyped-def]
    """A loopback server; ``seen`` records connections and requests."""
    seen: dict[str, Any] = {"connections": 0, "requests": []}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            await handler(reader, writer, seen)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, **server_args)
    port = server.sockets[0].getsockname()[1]
    seen["url"] = f"http://127.0.0.1:{port}/v1/echo"
    seen["port"] = port
    try:
        yield seen
    finally:
        server.close()
        await server.wait_closed()


def answering(*answers: bytes) -> Handler:
    """Answer the connection's requests in turn with ``answers``, then stop reading."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        for answer in answers:
            request = await read_request(r)
            if request is None:
                return
            seen["requests"].append(request)
            w.write(answer)
            await w.drain()
        await r.read()  # hold the connection open until the client closes it

    return handler


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*pieces: bytes, extensions: bool = False, trailers: bool = False) -> bytes:
    out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
    out += b"content-type: text/event-stream\r\n\r\n"
    for piece in pieces:
        ext = b";name=value" if extensions else b""
        out += f"{len(piece):x}".encode() + ext + b"\r\n" + piece + b"\r\n"
    return out + b"0\r\n" + (b"x-trailer: yes\r\n" if trailers else b"") + b"\r\n"


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))  # type: ignore[arg-type]


# --- framing ---------------------------------------------------------------------------


def test_post_sends_compact_json_and_reads_a_sized_answer() -> None:
    async def go() -> None:
        async with scripted(answering(ok(b'{"ok": true}'))) as seen:
            client = HttpClient()
            response = await client.post(
                seen["url"] + "?q=1", json={"a": "é"}, headers={"Authorization": "Bearer k"}
            )
            await client.aclose()
        assert response.status_code == 200 and response.json() == {"ok": True}
        request = seen["requests"][0]
        assert request["line"] == "POST /v1/echo?q=1 HTTP/1.1"
        assert request["headers"]["host"] == f"127.0.0.1:{seen['port']}"
        assert request["headers"]["authorization"] == "Bearer k"
        assert request["headers"]["content-type"] == "application/json"
        assert request["body"] == '{"a":"é"}'.encode()

    run(go())


@pytest.mark.parametrize("extensions, trailers", [(False, False), (True, True)])
def test_chunked_bodies_stream_piece_by_piece(extensions: bool, trailers: bool) -> None:
    pieces = [b"data: one\n\n", b"data: two\n\n", b"x" * 70_000]

    async def go() -> None:
        answer = chunked(*pieces, extensions=extensions, trailers=trailers)
        async with scripted(answering(answer, ok(b"again"))) as seen:
            client = HttpClient()
            async with client.stream("POST", seen["url"], json={}) as response:
                assert response.headers["content-type"] == "text/event-stream"
                got = [data async for data in response.aiter_bytes()]
            assert b"".join(got) == b"".join(pieces)
            assert client.idle_connections() == 1  # read to its end: kept
            second = await client.post(seen["url"], json={})
            await client.aclose()
        assert second.content == b"again"
        assert seen["connections"] == 1

    run(go())


def test_an_answer_without_length_ends_with_the_connection_and_is_not_kept() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        seen["requests"].append(await read_request(r))
        w.write(b"HTTP/1.1 200 OK\r\n\r\npart one, ")
        await w.drain()
        w.write(b"part two")
        await w.drain()

    async def go() -> None:
        async with scripted(handler) as seen:
            client = HttpClient()
            response = await client.post(seen["url"], json={})
            assert client.idle_connections() == 0
            await client.aclose()
        assert response.content == b"part one, part two"

    run(go())


def test_gzip_answers_are_inflated() -> None:
    packed = gzip.compress(b'{"text": "compressed"}')

    async def go() -> None:
        async with scripted(answering(ok(packed, "content-encoding: gzip"))) as seen:
            client = HttpClient()
            response = await client.post(seen["url"], json={})
            await client.aclose()
        assert response.json() == {"text": "compressed"}

    run(go())


def test_interim_1xx_answers_are_skipped() -> None:
    async def go() -> None:
        answer = b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + ok(b"final")
        async with scripted(answering(answer)) as seen:
            client = HttpClient()
            response = await client.post(seen["url"], json={})
            await client.aclose()
        assert (response.status_code, response.content) == (200, b"final")

    run(go())


def test_error_statuses_keep_their_reason_and_headers() -> None:
    answer = (
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\nx-a: 1\r\nx-a: 2\r\n"
        b"content-length: 4\r\n\r\nslow"
    )

    async def go() -> None:
        async with scripted(answering(answer)) as seen:
            client = HttpClient()
            response = await client.post(seen["url"], json={})
            await client.aclose()
        assert response.is_error and response.reason_phrase == "Too Many Requests"
        assert response.headers["retry-after"] == "7" and response.headers["x-a"] == "1, 2"
        assert response.text == "slow"

    run(go())


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",  # closes 5 bytes early
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",  # bad size line
        b"SMTP ready\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\ncontent-length: nine\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 0\r\n\r\n",
    ],
)
def test_broken_answers_are_protocol_errors(answer: bytes) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(answer)
        await w.drain()

    async def go() -> None:
        async with scripted(handler) as seen:
            client = HttpClient()
            with pytest.raises(http_client.RemoteProtocolError):
                await client.post(seen["url"], json={})
            assert client.connections_in_use() == 0 and client.idle_connections() == 0
            await client.aclose()

    run(go())


@given(
    pieces=st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    extensions=st.booleans(),
    trailers=st.booleans(),
)
def test_chunked_decoding_does_not_depend_on_where_reads_split(
    pieces: list[bytes], cuts: list[int], extensions: bool, trailers: bool
) -> None:
    wire = chunked(*pieces, extensions=extensions, trailers=trailers).split(b"\r\n\r\n", 1)[1]
    decoder, body = _ChunkedDecoder(), b""
    bounds = [0, *sorted(c % (len(wire) + 1) for c in cuts), len(wire)]
    for start, end in itertools.pairwise(bounds):
        assert not decoder.done or start == end == len(wire)
        body += b"".join(decoder.feed(wire[start:end]))
    assert decoder.done and decoder.leftover == b""
    assert body == b"".join(pieces)


# --- keep-alive ------------------------------------------------------------------------


def test_connections_are_reused_unless_the_server_says_close() -> None:
    async def go() -> None:
        answers = (ok(b"1"), ok(b"2", "connection: close"), ok(b"3"))
        async with scripted(answering(*answers)) as seen:
            client = HttpClient()
            bodies = [(await client.post(seen["url"], json={})).content for _ in range(3)]
            # 1 and 2 share a connection; 2 said close, so 3 opened another (which
            # answers "1" again: the script restarts per connection)
            await client.aclose()
        assert bodies == [b"1", b"2", b"1"]
        assert seen["connections"] == 2

    run(go())


def test_a_pooled_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    async def one_then_close(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        seen["requests"].append(await read_request(r))
        w.write(ok(b"fine"))
        await w.drain()
        # close without saying so, as a server whose keep-alive timer ran out

    async def go() -> None:
        async with scripted(one_then_close) as seen:
            client = HttpClient()
            assert (await client.post(seen["url"], json={})).content == b"fine"
            await asyncio.sleep(0.05)  # the close reaches the client while pooled
            assert (await client.post(seen["url"], json={})).content == b"fine"
            await client.aclose()
        assert seen["connections"] == 2 and len(seen["requests"]) == 2  # sent once each

    run(go())


def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_client, "KEEPALIVE_EXPIRY_S", 0.0)

    async def go() -> None:
        async with scripted(answering(ok(b"a"), ok(b"b"))) as seen:
            client = HttpClient()
            await client.post(seen["url"], json={})
            await client.post(seen["url"], json={})
            await client.aclose()
        assert seen["connections"] == 2

    run(go())


def test_leaving_a_stream_early_closes_its_connection() -> None:
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:
            w.write(b"6\r\ntoken \r\n")
            await w.drain()
            await asyncio.sleep(0.01)

    async def go() -> None:
        async with scripted(endless) as seen:
            client = HttpClient()
            async with client.stream("POST", seen["url"], json={}) as response:
                async for data in response.aiter_bytes():
                    assert data.startswith(b"token")
                    break
            assert client.connections_in_use() == 0 and client.idle_connections() == 0
            await client.aclose()

    run(go())


def test_a_body_read_to_its_end_is_pooled_even_if_the_caller_then_fails() -> None:
    async def go() -> None:
        async with scripted(answering(chunked(b"data: [DONE]\n\n"), ok(b"next"))) as seen:
            client = HttpClient()
            with pytest.raises(KeyError):
                async with client.stream("POST", seen["url"], json={}) as response:
                    await response.aread()
                    raise KeyError("the caller's own error")
            assert client.idle_connections() == 1
            assert (await client.post(seen["url"], json={})).content == b"next"
            await client.aclose()
        assert seen["connections"] == 1

    run(go())


# --- failures --------------------------------------------------------------------------


def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        await asyncio.sleep(5)

    async def go() -> None:
        async with scripted(silent) as seen:
            client = HttpClient(timeout=Timeout(read=0.2, connect=1))
            with pytest.raises(http_client.ReadTimeout):
                await client.post(seen["url"], json={})
            await client.aclose()

    run(go())


def test_a_stream_that_stalls_is_a_read_timeout_after_its_first_bytes() -> None:
    async def stalls(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await w.drain()
        await asyncio.sleep(5)

    async def go() -> None:
        async with scripted(stalls) as seen:
            client = HttpClient(timeout=Timeout(read=0.2, connect=1))
            got = []
            with pytest.raises(http_client.ReadTimeout):
                async with client.stream("POST", seen["url"], json={}) as response:
                    async for data in response.aiter_bytes():
                        got.append(data)
            assert got == [b"abc"] and client.connections_in_use() == 0
            await client.aclose()

    run(go())


def test_a_refused_connection_is_a_connect_error() -> None:
    async def go() -> None:
        async with scripted(answering()) as seen:
            url = seen["url"]
        client = HttpClient()
        with pytest.raises(http_client.ConnectError) as raised:
            await client.post(url, json={})
        assert isinstance(raised.value.__cause__, ConnectionRefusedError)
        await client.aclose()

    run(go())


@pytest.mark.parametrize("name, value", [("x-a", "one\r\nx-b: two"), ("x-a\n", "v")])
def test_headers_that_would_split_the_request_are_refused(name: str, value: str) -> None:
    async def go() -> None:
        client = HttpClient()
        with pytest.raises(http_client.LocalProtocolError):
            await client.post("http://127.0.0.1:9/x", json={}, headers={name: value})
        await client.aclose()

    run(go())


# --- TLS and proxies -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


def test_https_verifies_the_server_certificate(ca: trustme.CA) -> None:
    server_tls, client_tls = tls_contexts(ca)

    async def go() -> None:
        async with scripted(answering(ok(b"secure")), ssl=server_tls) as seen:
            url = f"https://localhost:{seen['port']}/v1"
            trusted = HttpClient(ssl_context=client_tls, trust_env=False)
            assert (await trusted.post(url, json={})).content == b"secure"
            await trusted.aclose()
            stranger = HttpClient(trust_env=False)  # the system's CAs do not know this one
            with pytest.raises(http_client.ConnectError):
                await stranger.post(url, json={})
            await stranger.aclose()

    run(go())


async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
    """A forwarding proxy: CONNECT tunnels bytes both ways; absolute-URL requests are
    recorded and answered by the proxy itself."""
    head = await r.readuntil(b"\r\n\r\n")
    seen["requests"].append(head.decode("latin-1"))
    if not head.startswith(b"CONNECT "):
        w.write(ok(b"via proxy"))
        await w.drain()
        return
    port = head.split(b" ")[1].decode().rsplit(":", 1)[1]
    up_r, up_w = await asyncio.open_connection("127.0.0.1", int(port))
    w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await w.drain()

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        dst.close()

    try:
        await asyncio.gather(pipe(r, up_w), pipe(up_r, w), return_exceptions=True)
    finally:
        up_w.close()


def test_https_through_an_http_proxy_tunnels_with_connect(
    ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls, client_tls = tls_contexts(ca)

    async def go() -> None:
        async with (
            scripted(answering(ok(b"through the tunnel")), ssl=server_tls) as origin,
            scripted(proxy_handler) as proxy,
        ):
            monkeypatch.setenv("HTTPS_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy['port']}")
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            client = HttpClient(ssl_context=client_tls)
            url = f"https://localhost:{origin['port']}/v1/chat"
            response = await client.post(url, json={"x": 1})
            await client.aclose()
        assert response.content == b"through the tunnel"
        connect = proxy["requests"][0]
        assert connect.startswith(f"CONNECT localhost:{origin['port']} HTTP/1.1")
        assert "proxy-authorization: Basic dXNlcjpwQHNz" in connect  # user:p@ss
        assert origin["requests"][0]["line"] == "POST /v1/chat HTTP/1.1"

    run(go())


def test_plain_http_through_a_proxy_sends_the_absolute_url_and_no_proxy_bypasses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def go() -> None:
        async with scripted(proxy_handler) as proxy, scripted(answering(ok(b"direct"))) as origin:
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy['port']}")
            monkeypatch.setenv("NO_PROXY", "localhost")
            client = HttpClient()
            via = await client.post(f"http://example.test:{origin['port']}/v1/x", json={})
            direct = await client.post(f"http://localhost:{origin['port']}/v1/x", json={})
            await client.aclose()
        assert via.content == b"via proxy"
        assert proxy["requests"][0].startswith(f"POST http://example.test:{origin['port']}/v1/x ")
        assert direct.content == b"direct"

    run(go())


def test_a_proxy_that_refuses_the_tunnel_is_a_connect_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refusing(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        seen["requests"].append(await r.readuntil(b"\r\n\r\n"))
        w.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
        await w.drain()

    async def go() -> None:
        async with scripted(refusing) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy['port']}")
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            client = HttpClient()
            with pytest.raises(http_client.ConnectError, match="407"):
                await client.post("https://api.example.test/v1/x", json={})
            assert client.connections_in_use() == 0
            await client.aclose()
        assert proxy["requests"][0].startswith(b"CONNECT api.example.test:443 HTTP/1.1")

    run(go())


def test_the_body_is_sent_as_json() -> None:
    payload = {"messages": [{"role": "user", "content": "ça va ? 👋"}], "n": 1.5}

    async def go() -> None:
        async with scripted(answering(ok(b"{}"))) as seen:
            client = HttpClient()
            await client.post(seen["url"], json=payload)
            await client.aclose()
        assert json.loads(seen["requests"][0]["body"]) == payload

    run(go())
