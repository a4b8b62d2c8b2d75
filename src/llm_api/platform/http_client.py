"""A small keep-alive HTTP/1.1 client on asyncio streams, for the remote backends.

CPython host only. Why not httpx: on the gateway's hot path httpx (httpcore, anyio, h11)
cost about 1.4 ms of CPU per upstream call against 0.05–0.08 ms for plain asyncio
streams (``bench/clients.py``), as much as the whole app, and its many short-lived
objects per streamed chunk made garbage collections, hence per-chunk latency spikes,
more frequent (bench/README.md). The backends need little: POST a JSON body, read the
answer whole or as it streams, keep connections alive, TLS, and the ``HTTP(S)_PROXY`` /
``NO_PROXY`` environment. That is all this does.

Timeouts follow httpx's meaning: ``connect`` bounds opening a connection (TCP, proxy
tunnel, TLS); ``read`` bounds each wait for the server's next bytes (and for sending the
request), never the whole answer, so a long stream that keeps flowing never times out.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import ssl
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from llm_api.watchdog import Watchdog

USER_AGENT = "llm-api"
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024  # a whole (non-streamed) answer; a broken upstream stops here
READ_SIZE = 64 * 1024
KEEPALIVE_EXPIRY_S = 4.0  # under uvicorn's and most servers' 5 s keep-alive
MAX_IDLE_PER_ORIGIN = 32
_NO_BODY_STATUSES = frozenset({204, 304})


class TransportError(Exception):
    """The request could not be completed at the transport level."""


class ConnectError(TransportError):
    """No connection (refused, unresolvable host, failed TLS handshake, proxy refused)."""


class ConnectTimeout(TransportError):
    """No connection within the connect timeout."""


class ReadTimeout(TransportError):
    """No bytes from the server within the read timeout."""


class WriteTimeout(TransportError):
    """The request could not be sent within the read timeout."""


class RemoteProtocolError(TransportError):
    """The server broke HTTP/1.1: a malformed answer, or the connection closed mid-answer."""


class LocalProtocolError(TransportError):
    """We were asked to send something HTTP/1.1 cannot carry (e.g. a newline in a header)."""


@dataclass(frozen=True, slots=True)
class Timeout:
    read: float
    connect: float

    @classmethod
    def of(cls, value: float | Timeout) -> Timeout:
        if isinstance(value, Timeout):
            return value
        return cls(read=value, connect=min(value, 10.0))


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LocalProtocolError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname, parts.port or default)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Proxy:
    origin: _Origin
    authorization: str | None  # a Proxy-Authorization value, from the proxy URL's userinfo

    @classmethod
    def of(cls, url: str) -> _Proxy:
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(_Origin.of(url), authorization)


class _Connection:
    __slots__ = ("idle_since", "origin", "reader", "writer")

    def __init__(self, origin: _Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self) -> bool:
        fresh = time.monotonic() - self.idle_since < KEEPALIVE_EXPIRY_S
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class Response:
    """Status, headers (names lower-cased) and the body, read whole or as it arrives."""

    def __init__(
        self,
        status_code: int,
        reason_phrase: str,
        headers: dict[str, str],
        body: _Body,
    ) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers
        self._body = body
        self._content: bytes | None = None

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (each read, not a fixed chunk size)."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        async for data in self._body:
            yield data

    async def aread(self) -> bytes:
        if self._content is None:
            parts: list[bytes] = []
            size = 0
            async for data in self._body:
                size += len(data)
                if size > MAX_BODY_BYTES:
                    raise RemoteProtocolError("the answer is larger than 64 MiB")
                parts.append(data)
            self._content = b"".join(parts)
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


class _Body:
    """One response body, framed by Content-Length, chunked encoding, or the connection's end.

    Iterate it once. When it has been read to its end (``complete``) and the connection
    may be kept (``reusable``), :meth:`HttpClient.stream` returns the connection to the
    pool; otherwise it closes it.
    """

    def __init__(
        self,
        conn: _Connection,
        headers: Mapping[str, str],
        status: int,
        read_timeout: float,
        reusable: bool,
    ) -> None:
        self.conn = conn
        self.read_timeout = read_timeout
        self.complete = False
        self.reusable = reusable
        encoding = headers.get("transfer-encoding", "").lower()
        self.chunked = "chunked" in encoding
        length = headers.get("content-length")
        self.length: int | None = None
        if status in _NO_BODY_STATUSES:
            self.length = 0
        elif not self.chunked and length is not None:
            try:
                self.length = int(length)
            except ValueError:
                raise RemoteProtocolError(f"bad Content-Length: {length!r}") from None
        if not self.chunked and self.length is None:
            self.reusable = False  # the body ends when the server closes the connection
        coding = headers.get("content-encoding", "identity").lower()
        if coding not in ("identity", "gzip"):
            raise RemoteProtocolError(f"unsupported Content-Encoding: {coding}")
        self.inflate = zlib.decompressobj(wbits=31) if coding == "gzip" else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # One awaited read per network read, whatever the framing: the chunked framing is
        # decoded from what each read returned (an SSE token is usually one chunk in one
        # packet), so a streamed token costs one read, not three; and the idle limit is
        # one watchdog for the whole body, not a timer per read.
        reader = self.conn.reader
        chunks = _ChunkedDecoder() if self.chunked else None
        remaining = self.length
        watchdog = Watchdog(self.read_timeout, idle=True)
        try:
            while remaining != 0:
                size = READ_SIZE if remaining is None else min(remaining, READ_SIZE)
                data = await _read(reader, size, watchdog)
                if not data:
                    if chunks is not None or remaining is not None:
                        raise RemoteProtocolError("the server closed the connection mid-answer")
                    break  # a body framed by the connection's end
                if chunks is not None:
                    pieces = chunks.feed(data)
                    if chunks.done:
                        self.reusable = self.reusable and not chunks.leftover
                        remaining = 0
                else:
                    pieces = [data]
                    if remaining is not None:
                        remaining -= len(data)
                for piece in pieces:
                    if self.inflate is not None:
                        piece = self.inflate.decompress(piece)
                    if piece:
                        yield piece
        finally:
            watchdog.close()
        self.complete = True


async def _read(reader: asyncio.StreamReader, size: int, watchdog: Watchdog) -> bytes:
    """One read of up to ``size`` bytes, bounded by ``watchdog`` (the body's idle limit)."""
    task = watchdog.start()
    try:
        return await reader.read(size)
    except asyncio.CancelledError:
        if watchdog.expired_on(task):
            raise ReadTimeout("no data from the server in time") from None
        raise
    except OSError as exc:
        raise RemoteProtocolError(f"the connection broke: {type(exc).__name__}") from exc
    finally:
        watchdog.stop()


class _ChunkedDecoder:
    """``Transfer-Encoding: chunked``, decoded from bytes as they arrive.

    ``feed`` returns the body bytes found so far; ``done`` turns true after the last
    chunk and its trailers (ignored); ``leftover`` is anything the server sent after
    that, which makes the connection unfit for reuse.
    """

    MAX_LINE = 4096

    def __init__(self) -> None:
        self.buffer = b""
        self.remaining = 0  # body bytes still due in the current chunk
        self.state = "size"  # size | data | crlf | trailers | done
        self.leftover = b""

    @property
    def done(self) -> bool:
        return self.state == "done"

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self.buffer + data if self.buffer else data
        pieces: list[bytes] = []
        while buffer:
            if self.state == "data":
                piece = buffer[: self.remaining]
                buffer = buffer[len(piece) :]
                self.remaining -= len(piece)
                pieces.append(piece)
                if self.remaining == 0:
                    self.state = "crlf"
            elif self.state == "crlf":
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    raise RemoteProtocolError("a chunk does not end with CRLF")
                buffer = buffer[2:]
                self.state = "size"
            elif self.state == "done":
                self.leftover, buffer = buffer, b""
            else:  # a size line, or a trailer line
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > self.MAX_LINE:
                        raise RemoteProtocolError("a chunk header line is too long")
                    break
                line, buffer = buffer[:end], buffer[end + 2 :]
                if self.state == "trailers":
                    if not line:
                        self.state = "done"
                    continue
                try:
                    self.remaining = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise RemoteProtocolError(f"bad chunk size line: {line[:40]!r}") from None
                if self.remaining < 0:
                    raise RemoteProtocolError(f"bad chunk size line: {line[:40]!r}")
                self.state = "data" if self.remaining else "trailers"
        self.buffer = buffer
        return pieces


class HttpClient:
    """Keep-alive connections per origin, reused LIFO, expired after a few idle seconds.

    Belongs to the event loop it is first used on. ``trust_env`` (default) reads
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` once, as httpx does.
    """

    def __init__(
        self,
        *,
        timeout: float | Timeout = 120.0,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = Timeout.of(timeout)
        self._ssl = ssl_context
        self._proxies = urllib.request.getproxies_environment() if trust_env else {}
        self._idle: dict[tuple[_Origin, _Proxy | None], list[_Connection]] = {}
        self._in_use = 0
        self._closed = False

    # --- requests -----------------------------------------------------------------

    async def post(
        self,
        url: str,
        *,
        json: Any,
        headers: Mapping[str, str] | None = None,
        limits: Timeout | None = None,
    ) -> Response:
        """POST ``json`` and read the whole answer."""
        async with self.stream("POST", url, json=json, headers=headers, limits=limits) as response:
            await response.aread()
            return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        headers: Mapping[str, str] | None = None,
        limits: Timeout | None = None,
    ) -> AsyncIterator[Response]:
        """Send the request; the response's head is read, its body is for the caller to
        iterate. Leaving the block before the body's end closes the connection; a body
        read to its end returns it to the pool."""
        if self._closed:
            raise RuntimeError("the client is closed")
        limits = limits or self.timeout
        origin = _Origin.of(url)
        proxy = self._proxy_for(origin)
        payload = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        request = _request_bytes(method, url, origin, proxy, headers or {}, payload)
        conn, response = await self._send(origin, proxy, request, limits)
        body = response._body
        self._in_use += 1
        try:
            yield response
        finally:
            # Whatever the caller did (an error or a cancellation included), a body read
            # to its end leaves the connection clean: it goes back to the pool.
            self._in_use -= 1
            if body.complete and body.reusable and not self._closed:
                self._release(origin, proxy, conn)
            else:
                conn.close()

    async def _send(
        self, origin: _Origin, proxy: _Proxy | None, request: bytes, limits: Timeout
    ) -> tuple[_Connection, Response]:
        # A pooled connection the server has just closed fails before any answer: then
        # (and only then) the request goes again on a new connection, as httpx does.
        conn = self._pooled(origin, proxy)
        if conn is not None:
            try:
                return conn, await _exchange(conn, request, limits.read)
            except _Stale:
                conn.close()
            except BaseException:
                conn.close()
                raise
        conn = await self._connect(origin, proxy, limits.connect)
        try:
            return conn, await _exchange(conn, request, limits.read)
        except _Stale:
            conn.close()
            raise RemoteProtocolError("the server closed the connection unanswered") from None
        except BaseException:
            conn.close()
            raise

    # --- the pool -----------------------------------------------------------------

    def _pooled(self, origin: _Origin, proxy: _Proxy | None) -> _Connection | None:
        idle = self._idle.get((origin, proxy))
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def _release(self, origin: _Origin, proxy: _Proxy | None, conn: _Connection) -> None:
        idle = self._idle.setdefault((origin, proxy), [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def idle_connections(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    def connections_in_use(self) -> int:
        """Connections lent to a request whose block has not ended yet."""
        return self._in_use

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    # --- connecting ---------------------------------------------------------------

    def _proxy_for(self, origin: _Origin) -> _Proxy | None:
        url = self._proxies.get(origin.scheme) or self._proxies.get("all")
        if not url or urllib.request.proxy_bypass_environment(origin.host, self._proxies):
            return None
        return _Proxy.of(url)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = default_ssl_context()
        return self._ssl

    async def _connect(self, origin: _Origin, proxy: _Proxy | None, limit_s: float) -> _Connection:
        first_hop = proxy.origin if proxy else origin
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(limit_s):
                reader, writer = await asyncio.open_connection(
                    first_hop.host,
                    first_hop.port,
                    ssl=self._ssl_context() if first_hop.scheme == "https" else None,
                    limit=MAX_HEAD_BYTES,
                )
                conn = _Connection(origin, reader, writer)
                if proxy and origin.scheme == "https":
                    await _tunnel(conn, proxy)
                    await writer.start_tls(self._ssl_context(), server_hostname=origin.host)
            return conn
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, TimeoutError):
                raise ConnectTimeout("no connection in time") from None
            if isinstance(exc, OSError):  # refused, unresolvable (gaierror), TLS (SSLError)
                raise ConnectError(str(exc) or type(exc).__name__) from exc
            raise


class _Stale(Exception):
    """A reused connection turned out closed before the server answered anything."""


def default_ssl_context() -> ssl.SSLContext:
    """The system's CAs (and ``SSL_CERT_FILE``/``SSL_CERT_DIR``), plus certifi's if present."""
    context = ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return context
    context.load_verify_locations(certifi.where())
    return context


async def _tunnel(conn: _Connection, proxy: _Proxy) -> None:
    """``CONNECT`` through an HTTP proxy to the origin; TLS then runs inside the tunnel."""
    origin = conn.origin
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    target = f"{host}:{origin.port}"  # CONNECT's authority-form always names the port
    lines = [f"CONNECT {target} HTTP/1.1", f"host: {target}"]
    if proxy.authorization:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    conn.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await conn.reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ConnectError("the proxy closed the connection") from exc
    status, reason, _ = _parse_head(head)
    if not 200 <= status < 300:
        raise ConnectError(f"the proxy refused the tunnel: {status} {reason}")


async def _exchange(conn: _Connection, request: bytes, read_timeout: float) -> Response:
    """Write the request and read the answer's head (skipping 1xx interim answers)."""
    reader = conn.reader
    try:
        async with asyncio.timeout(read_timeout):
            conn.writer.write(request)
            await conn.writer.drain()
    except TimeoutError:
        raise WriteTimeout("the request could not be sent in time") from None
    except ConnectionError:
        raise _Stale from None
    while True:
        try:
            async with asyncio.timeout(read_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise ReadTimeout("no answer from the server in time") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Stale from None
            raise RemoteProtocolError("the server closed the connection mid-answer") from None
        except asyncio.LimitOverrunError:
            raise RemoteProtocolError("the answer's headers are larger than 64 KiB") from None
        except ConnectionError:
            raise _Stale from None
        status, reason, headers = _parse_head(head)
        if status >= 200 or status == 101:
            break
    keep = "close" not in headers.get("connection", "").lower()
    body = _Body(conn, headers, status, read_timeout, reusable=keep)
    return Response(status, reason, headers, body)


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RemoteProtocolError(f"not an HTTP/1.x answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise RemoteProtocolError(f"a malformed header line: {line[:60]!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _request_bytes(
    method: str,
    url: str,
    origin: _Origin,
    proxy: _Proxy | None,
    headers: Mapping[str, str],
    payload: bytes,
) -> bytes:
    parts = urlsplit(url)
    if proxy and origin.scheme == "http":
        target = url.split("#", 1)[0]  # a plain-HTTP proxy takes the absolute URL
    else:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    fields = {"user-agent": USER_AGENT, "accept": "*/*"}
    for name, value in headers.items():
        if any(c in name for c in "\r\n: ") or "\r" in value or "\n" in value:
            raise LocalProtocolError(f"header {name!r} cannot be sent (line break or colon)")
        fields[name.lower()] = value
    fields["content-type"] = "application/json"
    fields["content-length"] = str(len(payload))
    if proxy and origin.scheme == "http" and proxy.authorization:
        fields["proxy-authorization"] = proxy.authorization
    lines = [f"{method} {target} HTTP/1.1", f"host: {origin.authority}"]
    lines += [f"{name}: {value}" for name, value in fields.items()]
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError("a header holds characters HTTP/1.1 cannot carry") from None
    return head + payload
