"""Turn Workers AI and OpenAI-compatible upstream failures into our typed errors.

Shared by the Worker's binding wrapper (``InferenceUpstreamError("3040: ...")``), the
Workers AI REST backend (``{"errors": [{"code": 3040, ...}]}``) and the OpenAI backend
(HTTP statuses), so one upstream fault gets one answer on every host.

Clients see an upstream's own words only where they are its documented error text: a
Workers AI error with its code, or an OpenAI-style client error (4xx) about the request.
Anything else (a 5xx body, a message without a code, text showing file paths or a
traceback) becomes a generic message; the upstream's text is kept as ``detail``, which
is logged with the request id and never sent.
"""

from __future__ import annotations

import re

from llm_api.errors import (
    ApiError,
    BackendBusy,
    BackendError,
    BackendQuotaExceeded,
    BackendTimeout,
    InvalidRequest,
    ModelNotFound,
    ModelRetired,
    PayloadTooLarge,
    is_shareable,
)

CAPACITY = 3040
DAILY_ALLOCATION = 3036
NO_SUCH_MODEL = 5007
INVALID_MODEL_ID = 3042
REQUEST_TOO_LARGE = 3006
UPSTREAM_TIMEOUT = 3007
INPUT_VALIDATION = 5006
MODEL_RETIRED = 5028  # "This model was deprecated on 2026-05-30" (facts-14 §3, [I32501])

#: seconds a client should wait before retrying a capacity error
CAPACITY_RETRY_AFTER = 2.0

_CODE_PREFIX = re.compile(r"^\s*(?:[A-Za-z]*Error:\s*)?(\d{4,5})\s*:\s*(.*)$", re.S)


def from_workers_ai_code(code: int | None, message: str) -> ApiError:
    """The error for a Workers AI error code (see the platform notes for the table)."""
    if code is not None and is_shareable(message):
        text, detail = f"Workers AI: {message}", None
    else:
        text = "Workers AI failed" + (f" (error {code})" if code is not None else "")
        detail = message or None
    if code == CAPACITY:
        return BackendBusy(text, retry_after=CAPACITY_RETRY_AFTER, detail=detail)
    if code == DAILY_ALLOCATION:
        return BackendQuotaExceeded(text, detail=detail)
    if code in (NO_SUCH_MODEL, INVALID_MODEL_ID):
        return ModelNotFound(text, param="model", detail=detail)
    if code == REQUEST_TOO_LARGE:
        return PayloadTooLarge(text, detail=detail)
    if code == UPSTREAM_TIMEOUT:
        return BackendTimeout(text, detail=detail)
    if code == MODEL_RETIRED:
        return ModelRetired(text, param="model", detail=detail)
    if code == INPUT_VALIDATION:
        return InvalidRequest(text, detail=detail)
    return BackendError(text, detail=detail)


def from_workers_ai_message(message: str) -> ApiError:
    """Parse ``"3040: Capacity temporarily exceeded"`` (how the binding throws)."""
    match = _CODE_PREFIX.match(message or "")
    if match:
        return from_workers_ai_code(int(match.group(1)), match.group(2).strip())
    return from_workers_ai_code(None, (message or "").strip())


def from_http_status(status: int, message: str, *, retry_after: float | None = None) -> ApiError:
    """The error for an OpenAI-compatible upstream's HTTP failure status."""
    if status < 500 and is_shareable(message):
        text, detail = f"upstream model server: {message}", None
    else:
        text, detail = f"the upstream model server answered {status}", message or None
    if status == 404:
        return ModelNotFound(text, param="model", detail=detail)
    if status == 413:
        return PayloadTooLarge(text, detail=detail)
    if status in (400, 422):
        return InvalidRequest(text, detail=detail)
    wait = retry_after or CAPACITY_RETRY_AFTER
    if status == 429:
        return BackendBusy(text, retry_after=wait, status=503, detail=detail)
    if status in (408, 504):
        return BackendTimeout(text, detail=detail)
    if status == 503:
        return BackendBusy(text, retry_after=wait, detail=detail)
    return BackendError(text, retryable=status >= 500, detail=detail)
