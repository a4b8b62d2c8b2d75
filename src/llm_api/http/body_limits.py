"""Request-body checks before routing: size (413), media type (415), UTF-8 and nesting (400).

The body is read here, up to the limit, and replayed to the app in one message. Bodies
are small JSON documents (and on Workers the runtime has read the whole body already),
so buffering costs nothing and lets a too-large body be refused before it is parsed.

Only bodies of authenticated requests (a key, or the admin token: ``SecurityMiddleware``
runs first) are read. No other route takes a body, so any other request is answered
(404, 405) without its body ever being buffered.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_api.binding.protocol import PlatformProvider
from llm_api.errors import (
    ApiError,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from llm_api.http.handlers import render_error, request_id_of
from llm_api.http.scope import scope_header

#: deepest JSON nesting accepted; real requests (tool schemas included) stay far below
MAX_JSON_DEPTH = 64
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, provider: PlatformProvider) -> None:
        self.app = app
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in METHODS_WITH_BODY
            or not is_authenticated(scope)
        ):
            await self.app(scope, receive, send)
            return
        limit = self.provider(scope).settings.max_body_bytes
        try:
            _check_media_type(scope)
            body = await _read_body(scope, receive, limit)
            _check_json(body)
        except ClientGone:
            return  # nobody to answer, and no complete request to act on
        except ApiError as error:
            response = render_error(scope["path"], error, request_id=request_id_of(scope))
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)


class ClientGone(Exception):
    """The client went away before its body was complete."""


def is_authenticated(scope: Scope) -> bool:
    state = scope.get("state", {})
    return "api_key" in state or state.get("admin", False)


def _check_media_type(scope: Scope) -> None:
    content_type = scope_header(scope, b"content-type")
    if content_type is None:
        return  # tolerated: many clients send JSON without saying so
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type '{media_type}' is not supported; send JSON with "
            "'Content-Type: application/json'"
        )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = scope_header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _check_json(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid UTF-8 (byte {exc.start})") from None
    # Counting brackets first keeps the common case (a shallow body) to two C-level scans.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"Request body nests JSON deeper than {MAX_JSON_DEPTH} levels")


def _depth(text: str) -> int:
    """Deepest bracket nesting outside JSON strings."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than {limit} bytes")
