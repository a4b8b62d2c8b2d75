"""Bearer keys, the admin token and per-key rate limits, as pure ASGI middleware.

Runs before routing and before any body is read, from the headers alone: every
protected path — unknown ones included — answers 401 without a valid key, and
``/admin/*`` without the admin token, whatever the request.

What counts against a key's limit: a request that reaches the model, or that is answered
with a success (a model list, the usage). Refused requests (401, 429) and invalid ones
(400, 403, 404, 405, 413, 415: the request, not the model, was at fault) count not at
all. So the decision is taken lazily, once per request (:class:`Admission`): by the AI
binding just before the first model call, or here when a success is about to be sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.binding.protocol import (
    AIBinding,
    PlatformProvider,
    RunResult,
    SSEByteStream,
)
from llm_api.errors import ApiError, RateLimited, Unauthorized, is_api_path
from llm_api.http.handlers import render_error, request_id_of
from llm_api.keys import parse_key, verify
from llm_api.ratelimit import Decision, Limiter, rate_limit_headers
from llm_api.settings import Settings

UNAUTHORIZED_MESSAGE = "Missing or invalid API key; send it as 'Authorization: Bearer <key>'"


#: the admin API's paths (behind the admin token, not a key); its errors are native
ADMIN_PREFIX = "/admin"


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def bearer_token(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case, RFC 9110),
    for keys and the admin token alike; None without that scheme."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def is_admin_token(presented: str | None, settings: Settings) -> bool:
    token = settings.admin_token
    if token is None or presented is None:
        return False
    # Compare digests, so timing reveals neither the token nor its length.
    return hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(token.encode()).digest()
    )


def admin_refusal(settings: Settings) -> Unauthorized:
    off = "" if settings.admin_token else " (the admin API is off: ADMIN_TOKEN is not set)"
    return Unauthorized(
        f"Missing or invalid admin token; send it as 'Authorization: Bearer <token>'{off}"
    )


class Admission:
    """One request's rate-limit decision, taken at most once, when first needed."""

    def __init__(self, limiter: Limiter, key_id: str, limit: int) -> None:
        self._limiter = limiter
        self._key_id = key_id
        self._limit = limit
        self._deciding: asyncio.Future[None] | None = None
        self.decision: Decision | None = None

    async def decide(self) -> Decision:
        while self.decision is None:
            if self._deciding is not None:  # a summary's parallel parts ask at once
                await asyncio.shield(self._deciding)
                continue
            self._deciding = asyncio.get_running_loop().create_future()
            try:
                self.decision = await self._limiter.hit(self._key_id, self._limit)
            finally:  # decided, or failed: the others may try again
                deciding, self._deciding = self._deciding, None
                deciding.set_result(None)
        return self.decision

    async def require(self) -> None:
        """Count this request, or raise the 429 (or the limiter's own error)."""
        decision = await self.decide()
        if not decision.admitted:
            raise _rate_limited(decision)


class AdmittedAI:
    """The binding, counting its request against the key's limit before the first call."""

    def __init__(self, inner: AIBinding, admission: Admission) -> None:
        self.inner = inner
        self.admission = admission
        self.engine = inner.engine

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        await self.admission.require()
        return await self.inner.run(model, inputs, options)


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, provider: PlatformProvider) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif is_api_path(scope["path"]):
            await self._keyed(scope, receive, send)
        elif is_admin(scope["path"]):
            settings = self.provider(scope).settings
            if not is_admin_token(bearer_token(scope), settings):
                await _refuse(scope, receive, send, admin_refusal(settings), {})
                return
            scope.setdefault("state", {})["admin"] = True
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _keyed(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        admission = Admission(
            platform.limiter, record.key_id, record.rpm or platform.settings.rate_limit_rpm
        )
        state = scope.setdefault("state", {})
        state["api_key"] = record
        state["admission"] = admission
        replaced = False

        async def send_counted(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the answer this one replaced goes nowhere
            if message["type"] == "http.response.start":
                if admission.decision is None and message["status"] < 400:
                    try:
                        await admission.require()
                    except ApiError as error:  # 429, or the limiter is down
                        replaced = True
                        headers = _limit_headers(admission.decision)
                        await render_error(
                            scope["path"], error, headers, request_id=request_id_of(scope)
                        )(scope, receive, send)
                        return
                if admission.decision is not None:
                    headers = [*message.get("headers", [])]
                    for name, value in _limit_headers(admission.decision).items():
                        headers.append((name.lower().encode(), value.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_counted)


def _limit_headers(decision: Decision | None) -> dict[str, str]:
    return rate_limit_headers(decision) if decision is not None else {}


def _rate_limited(decision: Decision) -> RateLimited:
    return RateLimited(
        f"Rate limit of {decision.limit} requests per minute reached for this key; "
        f"retry in {decision.retry_after_s:.1f}s",
        retry_after=decision.retry_after_s,
    )


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: ApiError, headers: dict[str, str]
) -> None:
    response = render_error(scope["path"], error, headers, request_id=request_id_of(scope))
    await response(scope, receive, send)
