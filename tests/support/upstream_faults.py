"""What each Workers AI fault must look like to our clients, on every route family.

Shared by tests/test_upstream_faults.py (over ASGI) and
tests/e2e/test_fault_injection_e2e.py (over HTTP, through ``llm-api serve``). The words
are the fake upstream's scenarios (tests/fake_upstreams.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_api.schemas.errors import NativeError, OpenAIError, V1Error

MODEL = "llama-3.2-3b-instruct"


@dataclass(frozen=True)
class Fault:
    word: str  # the scenario word that makes the fake upstream fail this way
    workers_ai_code: int | None
    status: int  # on /v1 and /api/v1
    native_status: int  # on /api/llm
    retryable: bool
    retry_after: bool  # whether the answer carries Retry-After
    openai_type: str
    v1_code: str
    openai_code: str
    param: str | None = None


_SERVER = ("server_error", "SERVICE_ERROR")  # OpenAI type, v1 code
_GONE = ("invalid_request_error", "NOT_FOUND")
_TOO_LARGE = ("invalid_request_error", "PAYLOAD_TOO_LARGE")
_QUOTA = ("rate_limit_error", "SERVICE_ERROR")

FAULTS = [
    # word              code  /v1  native retryable Retry-After (type, v1 code) openai code
    Fault("capacity",        3040, 503, 503, True,  True,  *_SERVER, "backend_overloaded"),
    Fault("quota",           3036, 429, 429, False, True,  *_QUOTA, "insufficient_quota"),
    Fault("nomodel",         5007, 404, 400, False, False, *_GONE, "model_not_found", "model"),
    Fault("badmodel",        3042, 404, 400, False, False, *_GONE, "model_not_found", "model"),
    Fault("toolarge",        3006, 413, 413, False, False, *_TOO_LARGE, "request_too_large"),
    Fault("upstreamtimeout", 3007, 504, 504, True,  False, *_SERVER, "backend_timeout"),
    Fault("internal",        3043, 502, 502, False, False, *_SERVER, "backend_error"),
    Fault("htmlerror",       None, 502, 502, True,  False, *_SERVER, "backend_error"),
]  # fmt: skip


@dataclass(frozen=True)
class Route:
    family: str  # native | v1 | openai
    path: str
    field: str  # "prompt" or "messages"


ROUTES = [
    Route("native", "/api/llm/generate", "prompt"),
    Route("native", "/api/llm/chat/completions", "messages"),
    Route("v1", "/api/v1/llm/chat", "messages"),
    Route("openai", "/v1/chat/completions", "messages"),
]


def request_body(route: Route, word: str, *, stream: bool) -> dict[str, Any]:
    text = f"please fail with {word}"
    body: dict[str, Any] = {"model": MODEL, "stream": stream}
    body[route.field] = text if route.field == "prompt" else [{"role": "user", "content": text}]
    return body


def check_answer(
    fault: Fault, route: Route, status: int, headers: Any, body: Any, secrets: list[str]
) -> None:
    """Assert one answer to ``fault`` on ``route``: status, headers and envelope."""
    where = f"{fault.word} on {route.path}"
    expected = fault.native_status if route.family == "native" else fault.status
    assert status == expected, f"{where}: {status} {body}"
    assert headers.get("content-type", "").startswith("application/json"), where
    assert headers.get("x-request-id"), where
    assert headers.get("x-ratelimit-limit-requests"), where  # an authenticated answer
    if fault.retry_after:
        assert int(headers["retry-after"]) >= 1, where
    else:
        assert "retry-after" not in headers, where
    for secret in secrets:  # never the upstream's URL or token
        assert secret not in str(body), f"{where}: {secret!r} leaked"
    if route.family == "native":
        assert set(body) == {"error"} and isinstance(body["error"], str), where
        assert body["error"], where
        NativeError.model_validate(body)
    elif route.family == "v1":
        V1Error.model_validate(body)
        error = body["error"]
        assert error["code"] == fault.v1_code, where
        assert error["message"], where
        assert error["details"]["retryable"] is fault.retryable, where
        assert error["details"].get("field") == fault.param, where
        assert ("retry_after" in error["details"]) is fault.retry_after, where
    else:
        OpenAIError.model_validate(body)
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}, where
        assert (error["type"], error["code"]) == (fault.openai_type, fault.openai_code), where
        assert error["param"] == fault.param, where
        assert error["message"], where
