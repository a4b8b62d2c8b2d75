"""Typed errors, and the route families whose envelopes they are rendered in.

Code raises an ``ApiError`` subclass; the app renders it once, in the envelope of
the family the request was addressed to (``family_for_path``): ``family.body(error)``
fills that family's envelope model (``llm_api.schemas.errors``), the one shape the
OpenAPI document shows.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from llm_api.ratelimit import retry_after_header
from llm_api.schemas.errors import (
    NativeError,
    OpenAIError,
    OpenAIErrorBody,
    OpenAIErrorType,
    V1Code,
    V1Error,
    V1ErrorBody,
    V1ErrorDetails,
)

logger = logging.getLogger("llm_api")


class ApiError(Exception):
    """An error with an HTTP status that every family knows how to render."""

    status: int = 500
    openai_type: OpenAIErrorType = "server_error"
    openai_code: str | None = None
    v1_code: V1Code = "INTERNAL_ERROR"
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


class WorkersPaidRequired(Forbidden):
    """Workers AI 5035: the model is served only to accounts on the Workers Paid plan."""

    openai_code = "workers_paid_required"


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


class ModelRetired(ApiError):
    """Workers AI 5028: Cloudflare no longer serves ``model`` (a full id).

    Raised by the binding adapters (``binding.upstream_errors``), never retried there. The
    catalog integration catches it to record the retirement at run time
    (``Catalog.mark_retired(error.model, error.successor)``) and to answer from a successor;
    uncaught it is a 410 naming the successor where the catalog knows one.
    """

    status = 410
    openai_type = "invalid_request_error"
    openai_code = "model_retired"
    v1_code = "NOT_FOUND"

    def __init__(
        self,
        model: str,
        retired_on: date | None = None,
        successor: str | None = None,
        *,
        message: str | None = None,  # the catalog's own wording, when it knows more
        param: str | None = "model",
        **options: Any,  # ApiError's (detail, retry_after, ...)
    ) -> None:
        when = f" on {retired_on.isoformat()}" if retired_on else ""
        advice = f"use {successor}" if successor else "choose another model from /v1/models"
        message = message or f"model {model} was retired{when}; {advice}"
        super().__init__(message, param=param, **options)
        self.model = model
        self.retired_on = retired_on
        self.successor = successor


class NotFound(ApiError):
    status = 404
    openai_type = "invalid_request_error"
    openai_code = "not_found"
    v1_code = "NOT_FOUND"


class ResponseNotFound(NotFound):
    """A stored response this key does not have (unknown, expired or another key's alike)."""

    openai_code = "response_not_found"


class PreviousResponseNotFound(NotFound):
    openai_code = "previous_response_not_found"


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


def public_error(error: ApiError, request_id: str | None = None) -> ApiError:
    """``error`` as a client may see it. What a backend said that is not for clients (its
    ``detail``, or a message showing file paths or a traceback) is logged with the
    request id, and the client gets a generic message with that id instead."""
    leaky = isinstance(error, BackendError) and not is_shareable(error.message)
    if error.detail is None and not leaky:
        return error
    logger.warning(
        "request %s: %s (%s)", request_id or "-", error.message, error.detail or "withheld"
    )
    public = copy.copy(error)
    message = "The model backend failed" if leaky else error.message
    if request_id:
        message += f"; quote request id {request_id} when reporting it"
    public.message = message
    public.detail = None
    return public


@dataclass(frozen=True, slots=True)
class Family:
    """A route family: the paths it answers for, and the envelope of its errors."""

    name: str
    #: it answers for every path under this folder, and for its prefix itself
    root: str
    #: its routers' prefix: the one place a family's paths are written
    prefix: str
    envelope: type[BaseModel]
    #: the error as ``envelope``
    fill: Callable[[ApiError], BaseModel]
    #: V1 leaves unset details out; OpenAI's SDKs expect ``param`` and ``code`` as null
    exclude_none: bool
    #: the seed's native API documents every invalid input, model included, as 400
    model_not_found_status: int = 404

    def covers(self, path: str) -> bool:
        return path.startswith(self.root) or path == self.prefix

    def status(self, error: ApiError) -> int:
        return self.model_not_found_status if isinstance(error, ModelNotFound) else error.status

    def body(self, error: ApiError) -> dict[str, Any]:
        """The JSON body of ``error`` in this family's envelope."""
        return self.fill(error).model_dump(exclude_none=self.exclude_none)


def _native(error: ApiError) -> NativeError:
    return NativeError(error=error.message)


def _v1(error: ApiError) -> V1Error:
    details = V1ErrorDetails(
        retryable=error.retryable, field=error.param or None, retry_after=error.retry_after
    )
    return V1Error(error=V1ErrorBody(code=error.v1_code, message=error.message, details=details))


def _openai(error: ApiError) -> OpenAIError:
    return OpenAIError(
        error=OpenAIErrorBody(
            message=error.message, type=error.openai_type, param=error.param, code=error.openai_code
        )
    )


NATIVE = Family(
    "native",
    root="/api/",
    prefix="/api/llm",
    envelope=NativeError,
    fill=_native,
    exclude_none=True,
    model_not_found_status=400,
)
V1 = Family(
    "v1", root="/api/v1/", prefix="/api/v1/llm", envelope=V1Error, fill=_v1, exclude_none=True
)
OPENAI = Family(
    "openai", root="/v1/", prefix="/v1", envelope=OpenAIError, fill=_openai, exclude_none=False
)
#: most specific root first
FAMILIES = (OPENAI, V1, NATIVE)


def family_for_path(path: str) -> Family:
    """The family whose envelope ``path``'s errors use; native outside every root
    (``/admin``, ``/health``, unknown paths)."""
    for family in FAMILIES:
        if family.covers(path):
            return family
    return NATIVE


def is_api_path(path: str) -> bool:
    """Whether ``path`` belongs to an API family (so it needs a key)."""
    return any(family.covers(path) for family in FAMILIES)


def error_headers(error: ApiError) -> dict[str, str]:
    if error.retry_after is None:
        return {}
    return {"retry-after": retry_after_header(error.retry_after)}
