"""CORS for browser frontends, as pure ASGI middleware.

Starlette's CORSMiddleware fixes its origins at start-up; here they come from the
request's settings (on Workers, from ``env``), so one app serves every deployment.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.binding.protocol import PlatformProvider
from llm_api.errors import CorsRefused
from llm_api.http.handlers import render_error
from llm_api.http.scope import scope_header

ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = frozenset({"authorization", "content-type", "x-request-id"})
#: response headers scripts may read: quota, request ids, backend, wording, retry hints
EXPOSED_HEADERS = ", ".join(
    [
        "x-request-id",
        "x-llm-backend",
        "x-llm-wording",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
    ]
)
PREFLIGHT_MAX_AGE = "600"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, provider: PlatformProvider) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = scope_header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.provider(scope).settings.allowed_origins
        allow_origin = "*" if "*" in allowed else (origin if origin in allowed else None)
        requested_method = scope_header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested_method is not None:
            await _preflight(scope, receive, send, allow_origin)
            return
        if allow_origin is None:
            await self.app(scope, receive, send)  # no CORS headers: the browser refuses
            return
        extra = [
            (b"access-control-allow-origin", allow_origin.encode()),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(scope: Scope, receive: Receive, send: Send, allow_origin: str | None) -> None:
    requested = scope_header(scope, b"access-control-request-headers") or ""
    names = {name.strip().lower() for name in requested.split(",") if name.strip()}
    refused = sorted(names - ALLOWED_HEADERS)
    response: Response
    if allow_origin is None or refused:
        reason = "origin not allowed" if allow_origin is None else f"headers not allowed: {refused}"
        response = render_error(scope["path"], CorsRefused(f"CORS preflight refused: {reason}"))
    else:
        response = Response(
            status_code=204,
            headers={
                "access-control-allow-origin": allow_origin,
                "access-control-allow-methods": ALLOWED_METHODS,
                "access-control-allow-headers": ", ".join(sorted(ALLOWED_HEADERS)),
                "access-control-max-age": PREFLIGHT_MAX_AGE,
                "vary": "Origin",
            },
        )
    await response(scope, receive, send)
