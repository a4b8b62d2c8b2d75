"""The remote transport's TLS (the system's CAs plus certifi's) and proxies
(``HTTPS_PROXY`` with a CONNECT tunnel, ``HTTP_PROXY``, ``NO_PROXY``), against scripted
raw-socket servers (tests/scripted_http.py) and a test CA (trustme).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme

from llm_api.errors import ApiError
from tests.support.scripted_http import SERVICE, answering, client, failure, ok, run, scripted


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted_ca(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """``ca`` made a system CA for this test (``SSL_CERT_FILE``, read by OpenSSL)."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    return ca


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_https_trusts_the_system_cas(trusted_ca: trustme.CA, no_proxy_env: None) -> None:
    async def go() -> None:
        async with scripted(answering(ok(b"secure")), ssl=server_tls(trusted_ca)) as seen:
            http = client()
            response = await http.post(f"https://localhost:{seen['port']}/v1", json={})
            await http.aclose()
        assert response.content == b"secure"

    run(go())


def test_https_refuses_a_certificate_no_ca_vouches_for(ca: trustme.CA, no_proxy_env: None) -> None:
    async def go() -> ApiError:
        async with scripted(answering(ok(b"secure")), ssl=server_tls(ca)) as seen:
            http = client()  # neither the system's CAs nor certifi's know this one
            error = await failure(http.post(f"https://localhost:{seen['port']}/v1", json={}))
            await http.aclose()
        return error

    error = run(go())
    assert error.message == f"could not reach {SERVICE}: TLS handshake failed"


async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
    """A forwarding proxy: CONNECT tunnels bytes both ways; absolute-URL requests are
    recorded and answered by the proxy itself."""
    head = await r.readuntil(b"\r\n\r\n")
    seen["requests"].append(head.decode("latin-1"))
    if not head.startswith(b"CONNECT "):
        await r.readexactly(int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]))
        w.write(ok(b"via proxy"))
        await w.drain()
        await r.read()
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
    trusted_ca: trustme.CA, no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> None:
        async with (
            scripted(answering(ok(b"through the tunnel")), ssl=server_tls(trusted_ca)) as origin,
            scripted(proxy_handler) as proxy,
        ):
            monkeypatch.setenv("HTTPS_PROXY", f"http://user:p%40ss@127.0.0.1:{proxy['port']}")
            http = client()
            url = f"https://localhost:{origin['port']}/v1/chat"
            response = await http.post(url, json={"x": 1})
            await http.aclose()
        assert response.content == b"through the tunnel"
        connect = proxy["requests"][0]
        assert connect.startswith(f"CONNECT localhost:{origin['port']} HTTP/1.1")
        fields = dict(line.split(": ", 1) for line in connect.split("\r\n")[1:] if line)
        sent = {name.lower(): value for name, value in fields.items()}
        assert sent["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss
        assert origin["requests"][0]["line"] == "POST /v1/chat HTTP/1.1"

    run(go())


def test_plain_http_through_a_proxy_sends_the_absolute_url_and_no_proxy_bypasses_it(
    no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> None:
        async with scripted(proxy_handler) as proxy, scripted(answering(ok(b"direct"))) as origin:
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy['port']}")
            monkeypatch.setenv("NO_PROXY", "localhost")
            http = client()
            via = await http.post(f"http://example.test:{origin['port']}/v1/x", json={})
            direct = await http.post(f"http://localhost:{origin['port']}/v1/x", json={})
            await http.aclose()
        assert via.content == b"via proxy"
        assert proxy["requests"][0].startswith(f"POST http://example.test:{origin['port']}/v1/x ")
        assert direct.content == b"direct"

    run(go())


def test_a_proxy_that_refuses_the_tunnel_is_a_502_that_says_so(
    no_proxy_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refusing(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: dict) -> None:
        seen["requests"].append(await r.readuntil(b"\r\n\r\n"))
        w.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
        await w.drain()

    async def go() -> None:
        async with scripted(refusing) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy['port']}")
            http = client()
            error = await failure(http.post("https://api.example.test/v1/x", json={}))
            assert http.connections_in_use() == 0
            await http.aclose()
        assert error.message == f"could not reach {SERVICE}: the proxy refused the tunnel (407)"
        assert proxy["requests"][0].startswith(b"CONNECT api.example.test:443 HTTP/1.1")

    run(go())
