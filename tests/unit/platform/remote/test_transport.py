"""The remote backends' transport (aiohttp, ``platform/remote_client.py``) against scripted
raw-socket servers (tests/scripted_http.py): framing, keep-alive, timeouts, refusals.

TLS and proxies are in tests/test_remote_tls_proxy.py; the hostile cases of issue 12 in
tests/test_hostile_upstream.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from typing import Any

import pytest

from llm_api.errors import ApiError, BackendError, BackendTimeout
from llm_api.platform.remote.client import Timeout, UpstreamClient
from llm_api.platform.remote.openai import OpenAICompatibleBackend
from tests.support.scripted_http import (
    SERVICE,
    answering,
    chunked,
    client,
    failure,
    ok,
    read_request,
    run,
    scripted,
)

# --- the app never loads aiohttp ------------------------------------------------------------


def test_the_app_and_the_cli_do_not_import_aiohttp() -> None:
    code = (
        "import sys, llm_api.app, llm_api.cli, llm_api.platform.local.platform; "
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- framing ---------------------------------------------------------------------------


def test_post_sends_compact_json_and_reads_a_sized_answer() -> None:
    async def go() -> None:
        async with scripted(answering(ok(b'{"ok": true}'))) as seen:
            http = client()
            response = await http.post(
                seen["url"] + "?q=1", json={"a": "é"}, headers={"Authorization": "Bearer k"}
            )
            await http.aclose()
        assert response.status_code == 200 and response.json() == {"ok": True}
        request = seen["requests"][0]
        assert request["line"] == "POST /v1/echo?q=1 HTTP/1.1"
        assert request["headers"]["host"] == f"127.0.0.1:{seen['port']}"
        assert request["headers"]["authorization"] == "Bearer k"
        assert request["headers"]["content-type"] == "application/json"
        assert request["headers"]["user-agent"] == "llm-api"
        assert request["body"] == '{"a":"é"}'.encode()

    run(go())


@pytest.mark.parametrize("trailers", [False, True])
def test_chunked_bodies_stream_and_keep_the_connection(trailers: bool) -> None:
    pieces = [b"data: one\n\n", b"data: two\n\n", b"x" * 70_000]

    async def go() -> None:
        answer = chunked(*pieces, trailers=trailers)
        async with scripted(answering(answer, ok(b"again"))) as seen:
            http = client()
            async with http.stream(seen["url"], json={}) as response:
                assert response.headers["content-type"] == "text/event-stream"
                got = [data async for data in response.aiter_bytes()]
            assert b"".join(got) == b"".join(pieces)
            assert http.idle_connections() == 1  # read to its end: kept
            second = await http.post(seen["url"], json={})
            await http.aclose()
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
            http = client()
            response = await http.post(seen["url"], json={})
            assert http.idle_connections() == 0
            await http.aclose()
        assert response.content == b"part one, part two"

    run(go())


def test_gzip_answers_are_inflated() -> None:
    packed = gzip.compress(b'{"text": "compressed"}')

    async def go() -> None:
        async with scripted(answering(ok(packed, "content-encoding: gzip"))) as seen:
            http = client()
            response = await http.post(seen["url"], json={})
            await http.aclose()
        assert response.json() == {"text": "compressed"}
        assert "gzip" in seen["requests"][0]["headers"]["accept-encoding"]

    run(go())


def test_an_upstream_cookie_is_never_sent_back() -> None:
    """One session serves every caller: a cookie would cross from one to the next."""

    async def go() -> None:
        answers = (ok(b"1", "set-cookie: session=caller-a; Path=/"), ok(b"2"))
        async with scripted(answering(*answers)) as seen:
            http = client()
            url = f"http://localhost:{seen['port']}/v1"  # a jar keeps no cookie for an IP
            await http.post(url, json={})
            await http.post(url, json={})
            await http.aclose()
        assert "cookie" not in seen["requests"][1]["headers"]

    run(go())


def test_interim_1xx_answers_are_skipped() -> None:
    async def go() -> None:
        answer = b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + ok(b"final")
        async with scripted(answering(answer)) as seen:
            http = client()
            response = await http.post(seen["url"], json={})
            await http.aclose()
        assert (response.status_code, response.content) == (200, b"final")

    run(go())


def test_error_statuses_keep_their_reason_headers_and_the_start_of_their_body() -> None:
    long_text = b"slow " * 100_000  # 500 kB: only the start of an error body is kept
    answer = (
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\n"
        + f"content-length: {len(long_text)}\r\n\r\n".encode()
        + long_text
    )

    async def go() -> None:
        async with scripted(answering(answer)) as seen:
            http = client()
            response = await http.post(seen["url"], json={})
            await http.aclose()
        assert response.is_error and response.reason_phrase == "Too Many Requests"
        assert response.headers["Retry-After"] == "7"
        assert response.text.startswith("slow slow") and len(response.content) == 64 * 1024

    run(go())


@pytest.mark.parametrize(
    "answer, reason",
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "truncated body"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n", "truncated"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "malformed"),
        (b"SMTP ready\r\n\r\n", "malformed HTTP answer"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: nine\r\n\r\n", "malformed HTTP answer"),
        (b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 3\r\n\r\nabc", "malformed"),
    ],
)
def test_broken_answers_are_502s_that_name_no_address(answer: bytes, reason: str) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(answer)
        await w.drain()

    async def go() -> None:
        async with scripted(handler) as seen:
            http = client()
            error = await failure(http.post(seen["url"], json={}))
            assert http.connections_in_use() == 0 and http.idle_connections() == 0
            await http.aclose()
        assert type(error) is BackendError and error.status == 502
        assert reason in error.message
        assert "127.0.0.1" not in error.message and str(seen["port"]) not in error.message

    run(go())


# --- keep-alive ------------------------------------------------------------------------


def test_connections_are_reused_unless_the_server_says_close() -> None:
    async def go() -> None:
        answers = (ok(b"1"), ok(b"2", "connection: close"), ok(b"3"))
        async with scripted(answering(*answers)) as seen:
            http = client()
            bodies = [(await http.post(seen["url"], json={})).content for _ in range(3)]
            # 1 and 2 share a connection; 2 said close, so 3 opened another (which
            # answers "1" again: the script restarts per connection)
            await http.aclose()
        assert bodies == [b"1", b"2", b"1"]
        assert seen["connections"] == 2

    run(go())


def test_leaving_a_stream_early_closes_its_connection() -> None:
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            while True:
                w.write(b"6\r\ntoken \r\n")
                await w.drain()
                await asyncio.sleep(0.01)
        finally:
            seen["closed"].set()

    async def go() -> None:
        async with scripted(endless) as seen:
            http = client()
            async with http.stream(seen["url"], json={}) as response:
                async for data in response.aiter_bytes():
                    assert data.startswith(b"token")
                    break
            assert http.connections_in_use() == 0 and http.idle_connections() == 0
            await asyncio.wait_for(seen["closed"].wait(), 2)
            await http.aclose()

    run(go())


# --- failures --------------------------------------------------------------------------


def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        await asyncio.sleep(5)

    async def go() -> None:
        async with scripted(silent) as seen:
            http = client(read=0.2)
            error = await failure(http.post(seen["url"], json={}))
            await http.aclose()
        assert type(error) is BackendTimeout
        assert error.message == f"{SERVICE} did not answer in time (no data)"

    run(go())


def test_a_stream_that_stalls_is_a_read_timeout_after_its_first_bytes() -> None:
    async def stalls(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await w.drain()
        await asyncio.sleep(5)

    async def go() -> None:
        async with scripted(stalls) as seen:
            http = client(read=0.2)
            got = []

            async def read_all() -> None:
                async with http.stream(seen["url"], json={}) as response:
                    async for data in response.aiter_bytes():
                        got.append(data)

            error = await failure(read_all())
            assert got == [b"abc"] and http.connections_in_use() == 0
            await http.aclose()
        assert type(error) is BackendTimeout

    run(go())


def test_a_flowing_stream_outlives_the_read_timeout() -> None:
    """``read`` bounds each wait, not the whole answer."""

    async def flowing(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(8):
            w.write(b"1\r\nx\r\n")
            await w.drain()
            await asyncio.sleep(0.1)
        w.write(b"0\r\n\r\n")
        await w.drain()

    async def go() -> None:
        async with scripted(flowing) as seen:
            http = client(read=0.3)
            async with http.stream(seen["url"], json={}) as response:
                body = b"".join([data async for data in response.aiter_bytes()])
            await http.aclose()
        assert body == b"x" * 8  # 0.8 s in all, never 0.3 s without a byte

    run(go())


def test_a_connection_that_cannot_be_made_in_time_is_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(5)

    monkeypatch.setattr("aiohappyeyeballs.start_connection", never)

    async def go() -> None:
        http = UpstreamClient(Timeout(read=5, connect=0.2))
        error = await failure(http.post("http://127.0.0.1:9/v1", json={}))
        await http.aclose()
        assert type(error) is BackendTimeout
        assert error.message == f"{SERVICE} did not answer in time (no connection)"

    run(go())


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:9/v1", "connection refused"),
        ("http://name.invalid/v1", "host name not resolved"),
    ],
)
def test_unreachable_upstreams_say_why_without_the_address(url: str, reason: str) -> None:
    async def go() -> ApiError:
        backend = OpenAICompatibleBackend(url)
        try:
            with pytest.raises(ApiError) as raised:
                await backend.run("m", {"prompt": "hi"})
        finally:
            await backend.aclose()
        return raised.value

    error = run(go())
    assert error.message == f"could not reach {SERVICE}: {reason}"


@pytest.mark.parametrize("name, value", [("x-a", "one\r\nx-b: two"), ("x-a", "v\nx")])
def test_headers_that_would_split_the_request_are_refused_unsent(name: str, value: str) -> None:
    async def go() -> None:
        async with scripted(answering(ok(b"{}"))) as seen:
            http = client()
            with pytest.raises(ValueError, match="header injection"):
                await http.post(seen["url"], json={}, headers={name: value})
            await http.aclose()
        assert seen["requests"] == []

    run(go())


def test_the_body_is_sent_as_json() -> None:
    payload = {"messages": [{"role": "user", "content": "ça va ? 👋"}], "n": 1.5}

    async def go() -> None:
        async with scripted(answering(ok(b"{}"))) as seen:
            http = client()
            await http.post(seen["url"], json=payload)
            await http.aclose()
        assert json.loads(seen["requests"][0]["body"]) == payload

    run(go())
