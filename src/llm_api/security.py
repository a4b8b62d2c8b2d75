"""Bearer keys and per-key rate limits for `/api/*` and `/v1/*`, as pure ASGI middleware.

Runs before routing, so every protected path — unknown ones included — answers 401
without a valid key, whatever it is. Refused requests (401, 429) consume no quota.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.error_handlers import render_error
from llm_api.errors import (
    ApiError,
    RateLimited,
    Unauthorized,
)
from llm_api.keys import parse_key, verify
from llm_api.platform.base import PlatformProvider
from llm_api.ratelimit import rate_limit_headers

UNAUTHORIZED_MESSAGE = "Missing or invalid API key; send it as 'Authorization: Bearer <key>'"


def is_protected(path: str) -> bool:
    return path.startswith("/api/") or path == "/v1" or path.startswith("/v1/")


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, provider: PlatformProvider) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        platform = self.provider(scope)
        presented = bearer_token(scope)
        key_id = parse_key(presented) if presented else None
        try:
            record = await platform.keys.get(key_id) if key_id else None
        except ApiError as error:  # the key store is down: refuse, retryably
            await _refuse(scope, receive, send, error, {})
            return
        if not verify(presented or "", record):
            headers = {"www-authenticate": "Bearer"}
            await _refuse(scope, receive, send, Unauthorized(UNAUTHORIZED_MESSAGE), headers)
            return
        assert record is not None
        try:
            limit = record.rpm or platform.settings.rate_limit_rpm
            decision = await platform.limiter.hit(record.key_id, limit)
        except ApiError as error:  # the limiter is down: fail closed, retryably
            await _refuse(scope, receive, send, error, {})
            return
        limit_headers = rate_limit_headers(decision)
        if not decision.admitted:
            error = RateLimited(
                f"Rate limit of {decision.limit} requests per minute reached for this key; "
                f"retry in {decision.retry_after_s:.1f}s",
                retry_after=decision.retry_after_s,
            )
            await _refuse(scope, receive, send, error, limit_headers)
            return
        scope.setdefault("state", {})["api_key"] = record
        encoded = [(name.lower().encode(), value.encode()) for name, value in limit_headers.items()]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *encoded]}
            await send(message)

        await self.app(scope, receive, send_with_limits)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: ApiError, headers: dict[str, str]
) -> None:
    await render_error(scope["path"], error, headers)(scope, receive, send)
