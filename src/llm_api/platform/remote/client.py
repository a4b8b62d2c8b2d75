"""The remote backends' HTTP client: one aiohttp session, bounded in time and in bytes.

CPython host only, and never imported by the app: ``platform.local`` imports the remote
backends lazily, and they import this. aiohttp does the HTTP/1.1 (its C parser refuses
malformed framing: ``Content-Length: -1``, ``+248`` or ``2_48``, chunk sizes like
``0xf8``), keep-alive, TLS, proxies and gzip; this module adds what a gateway needs:

* every body has a cap on its bytes *after* decompression (aiohttp inflates as it reads,
  at most a read buffer at a time, so counting what we are handed bounds the memory);
* a pooled connection that received bytes while idle is never lent again (aiohttp would
  parse them as the next request's answer);
* timeouts: ``connect`` bounds getting a connection (pool wait, TCP, proxy, TLS), ``read``
  bounds each wait for the upstream's next bytes, never the whole answer, so a long
  stream that keeps flowing never times out and one that stalls does;
* ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` read once, when the client starts, with the
  standard library's functions that aiohttp's ``trust_env`` calls on every request —
  in two thread-pool hops per request, which cost 0.3 ms of CPU per call here
  (bench/README.md); ``trust_env`` would also send ``~/.netrc`` passwords upstream.

aiohttp never re-sends a POST (it retries a failed pooled connection only for idempotent
methods), so a request the upstream may have received is never sent twice.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

USER_AGENT = "llm-api"
MiB = 1 << 20
MAX_BODY_BYTES = 8 * MiB  # a whole (non-streamed) answer, inflated
MAX_STREAM_BYTES = 64 * MiB  # one streamed answer, inflated
MAX_ERROR_BODY_BYTES = 64 * 1024  # of an error answer: its message is cut to 500 characters
YIELD_EVERY_BYTES = 256 * 1024  # a stream read without pause lets other requests run this often
MAX_CONNECTIONS = 256  # open upstream connections; more calls wait (within `connect`)
KEEPALIVE_EXPIRY_S = 4.0  # under uvicorn's and most servers' 5 s keep-alive


class AnswerTooLarge(Exception):
    """The upstream sent more bytes than the cap for this kind of answer."""


@dataclass(frozen=True, slots=True)
class Timeout:
    read: float
    connect: float

    @classmethod
    def of(cls, value: float | Timeout) -> Timeout:
        if isinstance(value, Timeout):
            return value
        return cls(read=value, connect=min(value, 10.0))


def default_ssl_context() -> ssl.SSLContext:
    """The system's CAs (and ``SSL_CERT_FILE``/``SSL_CERT_DIR``), plus certifi's if present."""
    context = ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return context
    context.load_verify_locations(certifi.where())
    return context


_Proxy = tuple[URL | None, dict[str, str] | None]  # the proxy, and headers for it


class _Proxies:
    """The proxy environment, as ``urllib.request`` reads it (``NO_PROXY`` included)."""

    def __init__(self) -> None:
        self._env = urllib.request.getproxies_environment()
        self._chosen: dict[tuple[str, str], _Proxy] = {}

    def for_url(self, url: URL) -> _Proxy:
        """The proxy for ``url`` (its credentials moved to ``Proxy-Authorization``)."""
        origin = (url.scheme, url.host or "")
        if origin not in self._chosen:
            raw = self._env.get(url.scheme) or self._env.get("all")
            if not raw or urllib.request.proxy_bypass_environment(origin[1], self._env):
                self._chosen[origin] = (None, None)
            else:
                proxy = URL(raw if "://" in raw else f"http://{raw}")
                headers = None
                if proxy.user is not None:
                    pair = f"{proxy.user}:{proxy.password or ''}".encode()
                    headers = {"proxy-authorization": "Basic " + base64.b64encode(pair).decode()}
                self._chosen[origin] = (proxy.with_user(None), headers)
        return self._chosen[origin]


class _CleanPool(aiohttp.TCPConnector):
    """aiohttp's keep-alive pool, which never lends a connection holding unread bytes.

    aiohttp goes on parsing a pooled connection's input, and hands a message that arrives
    there to the next request sent on it: an upstream's stray bytes after its answer would
    become another caller's answer. ``should_close`` (public) is true once anything is
    queued, so such a connection is closed instead. (``_get`` is private: where aiohttp
    takes a connection from the pool; tests/test_hostile_upstream.py fails if it moves.)
    """

    async def _get(self, key: Any, traces: Any) -> Any:
        while (conn := await super()._get(key, traces)) is not None:
            protocol = conn.protocol
            if protocol is not None and not protocol.should_close:
                return conn
            conn.close()
        return None

    def idle_connections(self) -> int:
        return sum(len(conns) for conns in self._conns.values())


class Response:
    """Status, headers and a body read whole or as it arrives, each with its cap."""

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.reason_phrase = raw.reason or ""
        self.headers = raw.headers  # case-insensitive
        self._content: bytes | None = None

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (each read, inflated), at most ``MAX_STREAM_BYTES``."""
        declared = self._raw.content_length
        if declared is not None and declared > MAX_STREAM_BYTES:
            raise AnswerTooLarge(f"a stream of {declared} bytes (the limit is {MAX_STREAM_BYTES})")
        size = unyielded = 0
        async for data in self._raw.content.iter_any():
            size += len(data)
            if size > MAX_STREAM_BYTES:
                raise AnswerTooLarge(f"a stream larger than {MAX_STREAM_BYTES // MiB} MiB")
            yield data
            unyielded += len(data)
            if unyielded >= YIELD_EVERY_BYTES:
                # aiohttp inflates what it already holds as fast as it is read, without
                # an await: a small gzip body could keep every other request waiting
                unyielded = 0
                await asyncio.sleep(0)

    async def aread(self) -> bytes:
        """The whole body: at most ``MAX_BODY_BYTES``, or the start of an error's."""
        if self._content is not None:
            return self._content
        limit = MAX_ERROR_BODY_BYTES if self.is_error else MAX_BODY_BYTES
        declared = self._raw.content_length
        if declared is not None and declared > limit and not self.is_error:
            raise AnswerTooLarge(f"an answer of {declared} bytes (the limit is {limit})")
        parts: list[bytes] = []
        size = 0
        async for data in self._raw.content.iter_any():
            parts.append(data)
            size += len(data)
            if size > limit:
                if self.is_error:  # the status says what happened; the text is a detail
                    break
                raise AnswerTooLarge(f"an answer larger than {limit // MiB} MiB")
        self._content = b"".join(parts)[:limit]
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("read the body first (aread)")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class UpstreamClient:
    """One ``aiohttp.ClientSession`` for every upstream call of a backend.

    Created on first use, inside the running event loop it then belongs to.
    """

    def __init__(self, timeout: Timeout) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._pool: _CleanPool | None = None
        self._proxies = _Proxies()
        self._in_use = 0

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._pool = _CleanPool(
                ssl=default_ssl_context(),
                limit=MAX_CONNECTIONS,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_EXPIRY_S,
            )
            timeout = self.timeout
            self._session = aiohttp.ClientSession(
                connector=self._pool,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.connect,
                    sock_connect=timeout.connect,
                    sock_read=timeout.read,
                ),
                trust_env=False,  # the proxy environment is read once (_Proxies)
                auto_decompress=True,
                headers={"user-agent": USER_AGENT},
                # one session serves every caller: an upstream's cookie must not be
                # handed from one caller's request to the next
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
        return self._session

    async def post(
        self, url: str, *, json: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        """POST ``json`` and read the whole answer."""
        async with self.stream(url, json=json, headers=headers) as response:
            await response.aread()
            return response

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> Response:
        """GET ``url`` and read the whole answer (bounded as every answer is)."""
        target = URL(url)
        proxy, proxy_headers = self._proxies.for_url(target)
        request = self._open().get(
            target, headers=dict(headers or {}), proxy=proxy, proxy_headers=proxy_headers
        )
        async with request as raw:
            self._in_use += 1
            try:
                response = Response(raw)
                await response.aread()
                return response
            finally:
                self._in_use -= 1

    @asynccontextmanager
    async def stream(
        self, url: str, *, json: Any, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[Response]:
        """POST ``json``; the answer's head is read, its body is for the caller. A body
        read to its end leaves the connection in the pool; leaving the block earlier (an
        error, a cancellation) closes it."""
        payload = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        fields = {**(headers or {}), "content-type": "application/json"}
        target = URL(url)
        proxy, proxy_headers = self._proxies.for_url(target)
        request = self._open().post(
            target, data=payload, headers=fields, proxy=proxy, proxy_headers=proxy_headers
        )
        async with request as raw:
            self._in_use += 1
            try:
                yield Response(raw)
            finally:
                self._in_use -= 1

    def idle_connections(self) -> int:
        return self._pool.idle_connections() if self._pool is not None else 0

    def connections_in_use(self) -> int:
        """Answers whose block has not ended yet (each holds a connection)."""
        return self._in_use

    async def aclose(self) -> None:
        session, self._session, self._pool = self._session, None, None
        if session is not None:
            await session.close()
