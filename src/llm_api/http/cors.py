"""CORS for browser frontends, as pure ASGI middleware.

Starlette's CORSMiddleware fixes its origins at start-up; here they come from the
request's settings (on Workers, from ``env``), so one app serves every deployment.

A preflight from an allowed origin is allowed the request headers it asks for: the
official SDKs send their own (``x-stainless-*`` from the `openai` npm package,
``user-agent`` from the AI SDK), and a bearer key is not a cookie, so no header widens
what a page can do. Credentials are never allowed.
"""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.binding.protocol import PlatformProvider
from llm_api.errors import CorsRefused
from llm_api.http.handlers import render_error
from llm_api.http.scope import scope_header

ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
#: allowed even when a preflight names none (the headers this API itself reads)
BASE_HEADERS = frozenset({"authorization", "content-type", "x-request-id"})
#: bounds on Access-Control-Request-Headers: the SDKs ask for about a dozen names
MAX_REQUESTED_HEADERS = 64
MAX_REQUESTED_HEADERS_BYTES = 2048
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")  # RFC 9110 token, lower-cased
#: response headers scripts may read: quota, request ids, backend, wording, retry hints,
#: and the OpenAI-style ones the SDKs read when a proxy in front adds them
EXPOSED_HEADERS = ", ".join(
    [
        "x-request-id",
        "x-llm-backend",
        "x-llm-wording",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
        "openai-processing-ms",
        "openai-version",
    ]
)
PREFLIGHT_MAX_AGE = "600"
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


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
        # Vary even when refused: a cache must not give this answer to an allowed origin
        extra = [(b"vary", b"Origin")]
        if allow_origin is not None:  # else no CORS headers: the browser refuses
            extra += [
                (b"access-control-allow-origin", allow_origin.encode()),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _requested_headers(raw: str) -> set[str]:
    """The names in Access-Control-Request-Headers; CorsRefused when out of bounds."""
    if len(raw) > MAX_REQUESTED_HEADERS_BYTES:
        raise CorsRefused(
            f"CORS preflight refused: Access-Control-Request-Headers is over "
            f"{MAX_REQUESTED_HEADERS_BYTES} bytes"
        )
    names = {name.strip().lower() for name in raw.split(",") if name.strip()}
    if len(names) > MAX_REQUESTED_HEADERS:
        raise CorsRefused(
            f"CORS preflight refused: more than {MAX_REQUESTED_HEADERS} request headers asked for"
        )
    for name in sorted(names):
        if not _TOKEN.fullmatch(name):
            shown = name[:64].encode("ascii", "backslashreplace").decode()
            raise CorsRefused(f"CORS preflight refused: not a header name: {shown!r}")
    return names


async def _preflight(scope: Scope, receive: Receive, send: Send, allow_origin: str | None) -> None:
    response: Response
    try:
        if allow_origin is None:
            raise CorsRefused("CORS preflight refused: origin not allowed")
        names = _requested_headers(scope_header(scope, b"access-control-request-headers") or "")
    except CorsRefused as refused:
        response = render_error(scope["path"], refused)
    else:
        response = Response(
            status_code=204,
            headers={
                "access-control-allow-origin": allow_origin,
                "access-control-allow-methods": ALLOWED_METHODS,
                "access-control-allow-headers": ", ".join(sorted(names | BASE_HEADERS)),
                "access-control-max-age": PREFLIGHT_MAX_AGE,
            },
        )
    response.headers["vary"] = PREFLIGHT_VARY
    await response(scope, receive, send)
