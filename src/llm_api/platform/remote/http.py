"""What the remote backends share: the upstream client, transport failures, upstream bodies.

CPython host only (the client is aiohttp, in ``remote_client``). The backends themselves
live in ``remote_workers_ai`` and ``remote_openai``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

# The binding's result shapes, shared with the Worker host; re-exported for the backends.
from llm_api.binding.workers_ai import binding_tool_call as binding_tool_call
from llm_api.binding.workers_ai import normalise_usage as normalise_usage
from llm_api.binding.workers_ai import parse_arguments as parse_arguments
from llm_api.errors import BackendError, BackendTimeout
from llm_api.platform.remote.client import AnswerTooLarge, Response, Timeout, UpstreamClient

#: The longest wait for a connection, or for the upstream's next bytes — not a deadline
#: for the whole answer, so a long stream that keeps flowing never times out, and one
#: that stalls does.
DEFAULT_TIMEOUT = Timeout(read=120.0, connect=10.0)

TimeoutArg = float | Timeout


class RemoteBackend:
    """One lazily created :class:`UpstreamClient`, reused by every call, closed by ``aclose``.

    The client is created on first use so that it belongs to the running event loop.
    """

    def __init__(self, *, timeout: TimeoutArg) -> None:
        self.timeout = Timeout.of(timeout)
        self._client: UpstreamClient | None = None

    def http(self) -> UpstreamClient:
        if self._client is None:
            self._client = UpstreamClient(self.timeout)
        return self._client

    async def load(self) -> None:
        """Nothing to load: the client opens on first use, inside the serving loop."""

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> RemoteBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@contextmanager
def transport_errors(service: str) -> Iterator[None]:
    """Turn the client's transport failures into our errors, without URLs or addresses.

    A broken connection is a 502 that is not retried (``BackendError`` is not
    retryable): the upstream may have received the request, and be billing it.
    """
    try:
        yield
    except aiohttp.ServerTimeoutError as exc:  # connect, sock_connect or sock_read
        kind = "no connection" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "no data"
        raise BackendTimeout(f"{service} did not answer in time ({kind})") from exc
    except aiohttp.ClientHttpProxyError as exc:
        reason = f"the proxy refused the tunnel ({exc.status})"
        raise BackendError(f"could not reach {service}: {reason}") from exc
    except aiohttp.ClientConnectorError as exc:
        raise BackendError(f"could not reach {service}: {_connect_reason(exc)}") from exc
    except AnswerTooLarge as exc:
        raise BackendError(f"{service} sent {exc}") from exc
    except aiohttp.ClientError as exc:
        raise BackendError(f"the connection to {service} failed: {_failure(exc)}") from exc


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "host name not resolved"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return "the proxy could not be reached"
    # happy eyeballs flattens refused attempts on several addresses into one OSError
    if isinstance(exc.os_error, ConnectionRefusedError) or "refused" in str(exc.os_error):
        return "connection refused"
    return "connection failed"


def _failure(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the upstream closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "a malformed or truncated body"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "a malformed HTTP answer"
    return type(exc).__name__


async def opened(stream: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """Run ``stream`` to its first (empty) yield, then hand it over.

    Each backend's stream generator sends the request and checks the status before that
    first yield, so an upstream failure is raised here, with its real status, before any
    byte reaches the client; and the generator has started, so closing it closes the
    upstream response even when nobody iterates it.
    """
    await anext(stream)
    return stream


#: How long a stream's body may stay open after its ``[DONE]`` before we stop waiting.
DRAIN_TIMEOUT_S = 0.5


async def drain(rest: AsyncIterator[Any]) -> None:
    """Read what follows ``[DONE]`` (the end of the chunked body, usually in the next
    packet), so the client puts the connection back in its pool instead of closing it: else
    every stream pays for a new TCP (and TLS) connection. Bounded: an upstream that keeps
    the body open after ``[DONE]`` costs at most this wait, then is closed as before; one
    that breaks it there only costs the connection — the answer is complete."""
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, AnswerTooLarge):
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            async for _ in rest:
                pass


def read_json(response: Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past the decoder's limit
        return None


def error_message(response: Response) -> str:
    """The upstream's own words from an error body (JSON envelope or plain text)."""
    payload = read_json(response)
    if isinstance(payload, dict):
        for key in ("error", "message", "detail"):
            value = payload.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg")
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or "")[:500]
    text = response.text.strip()
    if text.startswith("<"):  # an HTML error page from a proxy says nothing useful
        return response.reason_phrase or f"HTTP {response.status_code}"
    return text[:500]


def retry_after(response: Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), if the upstream sent it."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    # "1e400" reads as inf (and "nan" as nan): no wait, not a 500 when rendered
    return seconds if math.isfinite(seconds) and seconds > 0 else None
