"""The three error envelopes: what ``llm_api.errors.Family.body`` fills, and what the
OpenAPI document shows (one model per family, so the two cannot drift)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NativeError(BaseModel):
    """The native API's envelope (`/api/llm`, and `/admin`)."""

    error: str = Field(description="What went wrong, in plain words")


V1Code = Literal[
    "VALIDATION_ERROR",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "REQUEST_TIMEOUT",  # the local host's limits on slow clients
    "PAYLOAD_TOO_LARGE",
    "HEADERS_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "RATE_LIMIT_EXCEEDED",
    "SERVICE_ERROR",
    "INTERNAL_ERROR",
]


class V1ErrorDetails(BaseModel):
    retryable: bool = Field(description="Whether the same request may succeed later")
    field: str | None = Field(default=None, description="The request field at fault")
    retry_after: float | None = Field(default=None, description="Seconds to wait first")


class V1ErrorBody(BaseModel):
    code: V1Code
    message: str
    details: V1ErrorDetails


class V1Error(BaseModel):
    """The REST v1 API's envelope (`/api/v1/llm`)."""

    error: V1ErrorBody


OpenAIErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "rate_limit_error",
    "server_error",
]


class OpenAIErrorBody(BaseModel):
    message: str
    type: OpenAIErrorType
    param: str | None = Field(description="The request field at fault, if one is")
    code: str | None = Field(description="e.g. `model_not_found`, `rate_limit_exceeded`")


class OpenAIError(BaseModel):
    """The OpenAI-compatible API's envelope (`/v1`), as OpenAI's SDKs parse it."""

    error: OpenAIErrorBody
