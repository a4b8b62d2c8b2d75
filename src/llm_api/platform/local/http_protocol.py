"""The local host's HTTP/1.1 protocol: uvicorn's httptools protocol, with limits on
what one client may send and how slowly.

uvicorn bounds none of it: it buffered 200 MB of one header line, took 10,000 headers,
and kept connections that drip headers or a body open for as long as they dripped.
Here every request must keep to :class:`ClientLimits`:

* request line and headers: at most ``max_header_bytes`` bytes and ``max_headers``
  headers (431), complete within ``header_timeout_s`` of the connection's opening (or,
  on a kept-alive connection, of the request's first byte) (408);
* the body: no pause longer than ``body_timeout_s`` between reads, and complete within
  ``body_deadline_s`` of the headers (408; time when we, not the client, stopped
  reading does not count);
* ``max_connections`` open connections: a request on one more is answered 503 (with
  ``Retry-After``) as soon as its headers arrive, and beyond twice as many a new
  connection is closed at once.

Answers are written here, before the app runs, in the envelope of the family the path
belongs to, with ``connection: close``; then the connection is half-closed and what the
client still sends is read and dropped for at most ``LINGER_S`` — closing at once, with
unread bytes, would reset the connection and could destroy the answer before the client
reads it. A body is read no further than its first socket read until the app asks
for it; a request the app answers without reading its body (a 401, say) has the rest
dropped, never buffered, and keeps its connection only if that rest arrives within
``DRAIN_AFTER_ANSWER_S``. CPython host only (``llm-api serve``); the Worker never sees a
socket.
"""

from __future__ import annotations

import json
from asyncio import TimerHandle, Transport
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from llm_api.errors import (
    ApiError,
    HeadersTooLarge,
    InvalidRequest,
    RequestTimeout,
    ServerBusy,
    error_headers,
    family_for_path,
)
from llm_api.platform.local.client_limits import ClientLimits

#: how long a connection whose request was answered early may go on sending its body
DRAIN_AFTER_ANSWER_S = 1.0
#: how long a refused connection is read (and dropped) after its answer, for the client
#: to read that answer before the connection closes
LINGER_S = 2.0


def uvicorn_options(limits: ClientLimits) -> dict[str, Any]:
    """What ``uvicorn.Config`` takes for ``limits`` (and no ``Server`` header)."""
    return {
        "http": guarded_protocol(limits),
        "limit_concurrency": None,  # ours answer in the family envelope
        "backlog": limits.max_connections,  # as many again may wait to be accepted
        "ws": "none",  # no WebSocket routes: an upgrade must not bypass these limits
        "server_header": False,
    }


def guarded_protocol(limits: ClientLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, which it instantiates itself."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits = ClientLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between a request's start (or the connection's) and its headers
        self._head_bytes = 0  # bytes received while in the head (a bound on its size)
        self._header_bytes = 0  # the exact size of line and headers, from the parser
        self._header_count = 0
        self._head_timer: TimerHandle | None = None
        self._in_body = False
        self._waited_for_app = False
        self._body_timer: TimerHandle | None = None
        self._body_read_at = 0.0
        self._body_deadline = 0.0
        self._drain_timer: TimerHandle | None = None
        self._refusal: ApiError | None = None
        self._refused = False  # answered here: what follows is dropped unread

    # -- the connection ----------------------------------------------------------------

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > 2 * self.limits.max_connections:
            self.transport.abort()  # a flood: not even an answer
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._body_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return  # refused: what the client still sends is dropped
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # ws="none": never upgraded
            return
        except httptools.HttpParserError:
            error = self._refusal or InvalidRequest("Invalid HTTP request")
            self._refuse(error)
            return
        # One header line can grow without a callback: the parser keeps it whole.
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(self._too_large())
        elif self._in_body and not self._waited_for_app:
            # A body still coming: read no more until the app asks for it (uvicorn resumes
            # reading when it does), so that a request the app refuses unread (a 401)
            # buffers one read of its body, not 64 KiB more.
            self._waited_for_app = True
            self.flow.pause_reading()

    # -- the parser's callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._count(len(name) + len(value) + 4)
        if self._header_count > self.limits.max_headers:
            self._refusal = HeadersTooLarge(
                f"Request has more than {self.limits.max_headers} headers"
            )
            raise self._refusal
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if len(self.connections) > self.limits.max_connections:
            self._refusal = ServerBusy(
                f"This server is serving its maximum of {self.limits.max_connections} "
                "connections; retry shortly",
                retry_after=1.0,
            )
            raise self._refusal
        super().on_headers_complete()
        self._in_body = True
        self._waited_for_app = False
        now = self.loop.time()
        self._body_read_at = now
        self._body_deadline = now + self.limits.body_deadline_s
        self._arm_body_timer(self.limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        self._body_read_at = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._drain_timer is not None:  # answered before this body, which is now in
            self._drain_timer.cancel()
            self._drain_timer = None
            if self.timeout_keep_alive_task is None and not self.pipeline:
                # uvicorn armed it with the answer; the body's bytes then disarmed it
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )
        self._in_head = True
        self._head_bytes = self._header_bytes = self._header_count = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is None or not self.cycle.response_complete:
            return  # a pipelined request is the current one now: its body is not ours
        if self.cycle.body:
            # What the app never read would stay allocated until the connection's next
            # request: after the answer, nobody can read it any more.
            self.cycle.body = bytearray()
        if self._in_body and not (self._refused or self.transport.is_closing()):
            # Answered before the body was in (a refusal): let the client read the
            # answer, then hang up rather than read a body nobody wants.
            self._drain_timer = self.loop.call_later(DRAIN_AFTER_ANSWER_S, self.transport.close)

    # -- limits ------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            raise self._refusal

    def _too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"Request line and headers are larger than {self.limits.max_header_bytes} bytes"
        )

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._head_timed_out
            )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0:  # an idle connection, not a slow request: just close
            self.transport.close()
            return
        self._refuse(
            RequestTimeout(
                f"Request headers did not arrive within {self.limits.header_timeout_s:g}s"
            )
        )

    def _arm_body_timer(self, delay: float) -> None:
        self._body_timer = self.loop.call_later(max(delay, 0.0), self._check_body)

    def _check_body(self) -> None:
        self._body_timer = None
        if not self._in_body or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # Reading was paused by us (the app has not taken what came, or a pipelined
            # request waits its turn): that time is not the client's.
            pause = self.limits.body_timeout_s
            self._body_read_at = now
            self._body_deadline += pause
            self._arm_body_timer(pause)
            return
        idle_until = self._body_read_at + self.limits.body_timeout_s
        if now < idle_until and now < self._body_deadline:
            self._arm_body_timer(min(idle_until, self._body_deadline) - now)
            return
        limit = (
            f"within {self.limits.body_deadline_s:g}s"
            if now >= self._body_deadline
            else f"with no pause over {self.limits.body_timeout_s:g}s"
        )
        self._refuse(RequestTimeout(f"Request body did not arrive {limit}"))

    def _refuse(self, error: ApiError) -> None:
        """Answer ``error`` and close, unless an answer is already under way: then close."""
        self._refusal = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                self.transport.close()
                return
            cycle.disconnected = True  # the app, if running, sees the client leave
            cycle.message_event.set()
        path = getattr(self, "url", b"").split(b"?", 1)[0].decode("latin-1")
        self.transport.write(self._answer(error, path))
        self._refused = True
        self._unset_keepalive_if_required()
        for timer in (self._head_timer, self._body_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._drain_timer = None
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # the answer, then FIN; the client's bytes are dropped
        self._drain_timer = self.loop.call_later(LINGER_S, self.transport.close)

    def _answer(self, error: ApiError, path: str) -> bytes:
        family = family_for_path(path)
        body = json.dumps(family.body(error)).encode()
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *((k.encode(), v.encode()) for k, v in error_headers(error).items()),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return STATUS_LINE[family.status(error)] + head + b"\r\n" + body
