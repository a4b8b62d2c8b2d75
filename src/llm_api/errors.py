"""Typed errors and the three envelopes they are rendered in.

Code raises an ``ApiError`` subclass; the app renders it once, in the envelope of
the route family the request was addressed to (see ``family_for_path``).
"""

from __future__ import annotations

import enum
import re
from typing import Any


class Family(enum.Enum):
    NATIVE = "native"  # /api/llm/*    {"error": "message"}
    V1 = "v1"  # /api/v1/llm/*         {"error": {"code", "message", "details"}}
    OPENAI = "openai"  # /v1/*          {"error": {"message", "type", "param", "code"}}


def family_for_path(path: str) -> Family:
    if path == "/v1" or path.startswith("/v1/"):
        return Family.OPENAI
    if path.startswith("/api/v1/"):
        return Family.V1
    return Family.NATIVE


class ApiError(Exception):
    """An error with an HTTP status that every family knows how to render."""

    status: int = 500
    openai_type: str = "server_error"
    openai_code: str | None = None
    v1_code: str = "INTERNAL_ERROR"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        #: what a backend or upstream really said: logged with the request id, never sent
        self.detail = detail
        if status is not None:
            self.status = status
        if retryable is not None:
            self.retryable = retryable


class InvalidRequest(ApiError):
    status = 400
    openai_type = "invalid_request_error"
    v1_code = "VALIDATION_ERROR"


class ContextOverflow(InvalidRequest):
    """The prompt (plus the requested completion) cannot fit the model's context."""

    openai_code = "context_length_exceeded"


class Unauthorized(ApiError):
    status = 401
    openai_type = "authentication_error"
    openai_code = "invalid_api_key"
    v1_code = "UNAUTHORIZED"


class Forbidden(ApiError):
    status = 403
    openai_type = "permission_error"
    openai_code = "model_not_allowed"
    v1_code = "FORBIDDEN"


class CorsRefused(ApiError):
    status = 403
    openai_type = "invalid_request_error"
    openai_code = "cors_refused"
    v1_code = "FORBIDDEN"


class RateLimited(ApiError):
    status = 429
    openai_type = "rate_limit_error"
    openai_code = "rate_limit_exceeded"
    v1_code = "RATE_LIMIT_EXCEEDED"
    retryable = True


class ModelNotFound(ApiError):
    # The seed's native API answers 400 for an unknown model; OpenAI answers 404.
    status = 404
    openai_type = "invalid_request_error"
    openai_code = "model_not_found"
    v1_code = "NOT_FOUND"


class NotFound(ApiError):
    status = 404
    openai_type = "invalid_request_error"
    openai_code = "not_found"
    v1_code = "NOT_FOUND"


class RouteNotFound(NotFound):
    """No route answers this path."""


class MethodNotAllowed(ApiError):
    status = 405
    openai_type = "invalid_request_error"
    openai_code = "method_not_allowed"
    v1_code = "METHOD_NOT_ALLOWED"


class PayloadTooLarge(ApiError):
    status = 413
    openai_type = "invalid_request_error"
    openai_code = "request_too_large"
    v1_code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status = 415
    openai_type = "invalid_request_error"
    openai_code = "unsupported_media_type"
    v1_code = "UNSUPPORTED_MEDIA_TYPE"


class RequestTimeout(ApiError):
    """The client sent its request headers or body too slowly (the local host's limits)."""

    status = 408
    openai_type = "invalid_request_error"
    openai_code = "request_timeout"
    v1_code = "REQUEST_TIMEOUT"


class HeadersTooLarge(ApiError):
    status = 431
    openai_type = "invalid_request_error"
    openai_code = "request_headers_too_large"
    v1_code = "HEADERS_TOO_LARGE"


class ServerBusy(ApiError):
    """This server has as many connections as it takes (the local host's limit)."""

    status = 503
    openai_type = "server_error"
    openai_code = "server_overloaded"
    v1_code = "SERVICE_ERROR"
    retryable = True


class BackendError(ApiError):
    """The model backend failed (502) — its own statuses are set by subclasses."""

    status = 502
    openai_type = "server_error"
    openai_code = "backend_error"
    v1_code = "SERVICE_ERROR"


class BackendBusy(BackendError):
    status = 503
    openai_code = "backend_overloaded"
    retryable = True


class BackendTimeout(BackendError):
    status = 504
    openai_code = "backend_timeout"
    retryable = True


class BackendQuotaExceeded(BackendError):
    """The upstream account's allocation is used up: retrying will not help."""

    status = 429
    openai_type = "rate_limit_error"
    openai_code = "insufficient_quota"
    v1_code = "SERVICE_ERROR"


class InvalidModelOutput(BackendError):
    """The model answered, but not in the shape that was asked for."""

    openai_code = "invalid_model_output"
    retryable = True


#: what only a server's insides contain: absolute file paths and Python tracebacks
_INSIDES = re.compile(
    r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]*"  # /srv/models/x.gguf, not https://host/a/b
    r"|\b[A-Za-z]:\\"  # C:\models
    r"|Traceback \(most recent call last\)|\bFile \"[^\"]*\", line \d+"
)


def is_shareable(text: str) -> bool:
    """Whether an upstream's error text may be shown to clients: its own words about the
    request, not its file system or stack."""
    return bool(text.strip()) and _INSIDES.search(text) is None


def status_for(error: ApiError, family: Family) -> int:
    if family is Family.NATIVE and isinstance(error, ModelNotFound):
        return 400  # the seed documents every invalid input, model included, as 400
    return error.status


def error_body(error: ApiError, family: Family) -> dict[str, Any]:
    """The JSON body of ``error`` in ``family``'s envelope."""
    if family is Family.NATIVE:
        return {"error": error.message}
    if family is Family.V1:
        details: dict[str, Any] = {"retryable": error.retryable}
        if error.param:
            details["field"] = error.param
        if error.retry_after is not None:
            details["retry_after"] = error.retry_after
        return {"error": {"code": error.v1_code, "message": error.message, "details": details}}
    return {
        "error": {
            "message": error.message,
            "type": error.openai_type,
            "param": error.param,
            "code": error.openai_code,
        }
    }


def error_headers(error: ApiError) -> dict[str, str]:
    if error.retry_after is None:
        return {}
    return {"retry-after": str(max(1, round(error.retry_after + 0.499)))}
