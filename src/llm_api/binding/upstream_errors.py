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
import time
from datetime import date

from llm_api.catalog import TABLE_CATALOG
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
    WorkersPaidRequired,
    is_shareable,
)

# Workers AI's codes, as its errors page lists them (facts-14 §3, [ERR]; 5028 [I32501],
# 5035 [PAID][FL713], 3010 from the platform notes). Our statuses, not always the platform's:
RETIRED = 5028  # 410, naming the successor
WORKERS_PAID = 5035  # 403
DAILY_ALLOCATION = 3036  # 429 until 00:00 UTC, when the free allocation resets [P]
CAPACITY = 3040  # 503, retryable (the platform says 429)
INPUT_VALIDATION = 5006  # 400
INVALID_INPUT = 3010  # 400
INVALID_MODEL_ID = 3042  # 404 (OpenAI's model_not_found)
NO_SUCH_MODEL = 5007  # 404 (the platform says 400)
REQUEST_TOO_LARGE = 3006  # 413
UPSTREAM_TIMEOUT = 3007  # 504 (the platform says 408)
UPSTREAM_ABORTED = 3008  # 504

#: seconds a client should wait before retrying a capacity error
CAPACITY_RETRY_AFTER = 2.0
DAY_S = 86_400

# The binding throws ``"<code>: <text>"`` (workerd ai-api.ts ``_parseError``), which the
# console shows after ``AiError: ``; 5035 comes as ``"<text> (code 5035)"`` [FL713].
_CODE_PREFIX = re.compile(r"^\s*(?:[A-Za-z]*Error:\s*)?(\d{4,5})\s*:\s*(.*)$", re.S)
_CODE_SUFFIX = re.compile(r"^(.*?)\s*\(code (\d{4,5})\)\s*$", re.S)
# REST ``errors[0].message`` may add the same ``AiError: `` and the upstream's request id in
# parentheses (``"AiError: Bad input: ... (3f2a9c1e-cb13-...)"``, facts-14 §0.4 [SX5035]).
_ERROR_NAME = re.compile(r"^\s*[A-Za-z]*Error:\s*")
_REQUEST_ID = re.compile(r"\s*\(([0-9A-Za-z]+(?:-[0-9A-Za-z]+){3,})\)\s*$")
_RETIRED_ON = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def from_workers_ai_code(
    code: int | None, message: str, *, model: str | None = None, now: float | None = None
) -> ApiError:
    """The error for a Workers AI error code. ``model`` (the full id that was run) names
    the model in a 5028's answer; ``now`` is the clock for 3036's ``Retry-After``."""
    message, upstream_id = _cleaned(message)
    if code is not None and is_shareable(message):
        # a coded message is the platform's documented text: shown (issue 12)
        text, detail = f"Workers AI: {message}", None
    else:
        text = "Workers AI failed" + (f" (error {code})" if code is not None else "")
        detail = message or None
    if upstream_id and detail is None:
        detail = f"Workers AI request id {upstream_id}"  # logged with ours, for support
    if code == RETIRED:
        return _retired(model, message, detail)
    if code == WORKERS_PAID:
        if detail is not None and not message:
            text = "Workers AI: this model requires a Workers Paid plan"
        return WorkersPaidRequired(text, param="model", detail=detail)
    if code == DAILY_ALLOCATION:
        # not retryable (it lasts until midnight UTC); the client is told how long
        wait = until_utc_midnight(time.time() if now is None else now)
        return BackendQuotaExceeded(text, retry_after=wait, detail=detail)
    if code == CAPACITY:
        return BackendBusy(text, retry_after=CAPACITY_RETRY_AFTER, detail=detail)
    if code in (NO_SUCH_MODEL, INVALID_MODEL_ID):
        return ModelNotFound(text, param="model", detail=detail)
    if code == REQUEST_TOO_LARGE:
        return PayloadTooLarge(text, detail=detail)
    if code in (UPSTREAM_TIMEOUT, UPSTREAM_ABORTED):
        return BackendTimeout(text, detail=detail)
    if code in (INPUT_VALIDATION, INVALID_INPUT):
        return InvalidRequest(text, detail=detail)
    return BackendError(text, detail=detail)


def from_workers_ai_message(
    message: str, *, model: str | None = None, now: float | None = None
) -> ApiError:
    """Parse what the binding throws: ``"3040: Capacity temporarily exceeded"``, with or
    without ``AiError: `` before it, or ``"... (code 5035)"``."""
    message = message or ""
    match = _CODE_PREFIX.match(message)
    if match:
        return from_workers_ai_code(int(match.group(1)), match.group(2), model=model, now=now)
    match = _CODE_SUFFIX.match(message)
    if match:
        text = _ERROR_NAME.sub("", match.group(1), count=1)
        return from_workers_ai_code(int(match.group(2)), text, model=model, now=now)
    return from_workers_ai_code(None, message, model=model, now=now)


def until_utc_midnight(now: float) -> float:
    """Seconds from ``now`` to the next 00:00 UTC, when the daily free allocation resets."""
    return DAY_S - (now % DAY_S)


def _cleaned(message: str) -> tuple[str, str | None]:
    """The text without an error-class prefix, and the upstream request id it ended with."""
    text = _ERROR_NAME.sub("", message.strip(), count=1)
    found = _REQUEST_ID.search(text)
    if found is None:
        return text, None
    return text[: found.start()].rstrip(), found.group(1)


def _retired(model: str | None, message: str, detail: str | None) -> ApiError:
    """A 5028 as ``ModelRetired``: the day from the message (else the catalog's), the
    successor from the built-in catalog (its ``replacement``, followed to an active model)."""
    info = TABLE_CATALOG.get(model) if model else None
    if model is None or info is None:
        name = model or "the requested model"
        return ModelRetired(name, _day(message), None, detail=detail)
    retired_on = _day(message) or info.retired_on
    follower = TABLE_CATALOG.successor(info) if info.retired else None
    if follower is None and info.replacement:
        replacement = TABLE_CATALOG.get(info.replacement)
        follower = replacement if replacement is not None and not replacement.retired else None
    return ModelRetired(info.id, retired_on, follower.id if follower else None, detail=detail)


def _day(message: str) -> date | None:
    found = _RETIRED_ON.search(message)
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


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
