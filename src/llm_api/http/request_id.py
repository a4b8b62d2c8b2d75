"""Pure ASGI middleware (no BaseHTTPMiddleware: it breaks streaming and contextvars)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.http.scope import scope_header


class RequestIdMiddleware:
    """Give every response an ``x-request-id`` (the client's own, if it sent a sane one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _client_request_id(scope: Scope) -> str | None:
    text = scope_header(scope, b"x-request-id")
    if text and len(text) <= 128 and text.isprintable():
        return text
    return None


class RelativeRedirectMiddleware:
    """Send every redirect's ``Location`` as a path: Starlette builds absolute ones from
    the request's ``Host`` header, which the client chooses (``Host: evil.example`` would
    send a browser to ``http://evil.example/...``). The app turns off trailing-slash
    redirects; this covers the static folder's ``/dir`` -> ``/dir/``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = [
                    (name, relative_location(value) if name == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_relative)


def relative_location(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")  # "//evil.example" is a host, not a path
    return urlunsplit(("", "", path, parts.query, parts.fragment)).encode("latin-1")
