"""Workers AI's error codes, each with its status and envelope in every family (issue 14, item 6).

The binding's messages come from ``fixtures/workers_ai/errors-binding.json`` (both forms:
``"<code>: <text>"`` and ``"<text> (code 5035)"``), turned into typed errors by
``binding.upstream_errors`` as the Worker's adapter does, and raised by the scripted binding.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.binding.upstream_errors import from_workers_ai_message, until_utc_midnight
from llm_api.errors import BackendQuotaExceeded, ModelRetired
from tests.support.paths import WORKERS_AI_FIXTURES
from tests.support.scripted_ai import ScriptedAI

BINDING_ERRORS = json.loads((WORKERS_AI_FIXTURES / "errors-binding.json").read_text())
MODEL = "@cf/meta/llama-3.1-8b-instruct"
#: what the routes ask for: an active model, so no successor answers in its place, and a 5028
#: for it is the run-time retirement the host's catalog records (services/serving.py)
ACTIVE = "@cf/meta/llama-3.2-3b-instruct"
#: an hour and a half-second before 00:00 UTC: 3036's Retry-After is 3601
NOW = 1_780_099_200 - 3_600.5
ROUTES = {
    "native": ("/api/llm/generate", {"prompt": "hi", "model": ACTIVE}),
    "v1": ("/api/v1/llm/chat", {"model": ACTIVE, "messages": [{"role": "user", "content": "hi"}]}),
    "openai": (
        "/v1/chat/completions",
        {"model": ACTIVE, "messages": [{"role": "user", "content": "hi"}]},
    ),
}


@dataclass(frozen=True)
class Expected:
    status: int
    native_status: int
    openai_type: str
    openai_code: str | None
    v1_code: str
    retryable: bool
    retry_after: str | None
    message: str  # a part of the message every family shows


RETIRED = f"model {MODEL} was retired on 2026-05-30; use @cf/meta/llama-3.1-8b-instruct-fast"
_REQUEST = "invalid_request_error"
# fmt: off
EXPECTED = {
    # fixture: /v1 and /api/v1 status, native status, OpenAI type and code, v1 code, retryable,
    # Retry-After, text
    "5028": Expected(410, 410, _REQUEST, "model_retired", "NOT_FOUND", False, None,
                     "was retired by Cloudflare"),
    "5035": Expected(403, 403, "permission_error", "workers_paid_required", "FORBIDDEN", False,
                     None, "This model requires a Workers Paid plan"),
    "3036": Expected(429, 429, "rate_limit_error", "insufficient_quota", "SERVICE_ERROR", False,
                     "3601", "daily free allocation"),
    "3040": Expected(503, 503, "server_error", "backend_overloaded", "SERVICE_ERROR", True, "2",
                     "Capacity"),
    "5006": Expected(400, 400, _REQUEST, None, "VALIDATION_ERROR", False, None, "Bad input"),
    "3042": Expected(404, 400, _REQUEST, "model_not_found", "NOT_FOUND", False, None, "model name"),
    "5007": Expected(404, 400, _REQUEST, "model_not_found", "NOT_FOUND", False, None,
                     "No such model"),
    "3006": Expected(413, 413, _REQUEST, "request_too_large", "PAYLOAD_TOO_LARGE", False, None,
                     "too large"),
    "3007": Expected(504, 504, "server_error", "backend_timeout", "SERVICE_ERROR", True, None,
                     "timeout"),
    "errors_form": Expected(503, 503, "server_error", "backend_overloaded", "SERVICE_ERROR", True,
                            "2", "Capacity"),
}
# fmt: on


def check_envelope(family: str, expected: Expected, status: int, headers: Any, body: Any) -> None:
    """One family's answer to one code: status, Retry-After and the envelope's fields."""
    assert status == (expected.native_status if family == "native" else expected.status), body
    assert headers.get("retry-after") == expected.retry_after
    if family == "native":
        assert set(body) == {"error"} and expected.message in body["error"]
    elif family == "openai":
        error = body["error"]
        assert (error["type"], error["code"]) == (expected.openai_type, expected.openai_code)
        assert expected.message in error["message"]
    else:
        error = body["error"]
        assert error["code"] == expected.v1_code
        assert expected.message in error["message"]
        assert error["details"]["retryable"] is expected.retryable
        wanted_wait = None if expected.retry_after is None else float(expected.retry_after)
        got_wait = error["details"].get("retry_after")
        assert (got_wait is None) == (wanted_wait is None)
        if wanted_wait is not None:
            assert abs(got_wait - wanted_wait) < 1


def test_every_binding_fixture_has_an_expectation():
    assert set(EXPECTED) == {key for key in BINDING_ERRORS if not key.startswith("_")}


@pytest.mark.parametrize("family", ROUTES)
@pytest.mark.parametrize("key", EXPECTED)
def test_each_workers_ai_code_has_its_status_and_envelope(client, ai, family, key):
    thrown = BINDING_ERRORS[key]
    ai.script(raise_error=from_workers_ai_message(thrown["message"], model=MODEL, now=NOW))
    path, body = ROUTES[family]
    response = client.post(path, json=body)
    check_envelope(family, EXPECTED[key], response.status_code, response.headers, response.json())


def test_the_binding_message_with_the_error_name_in_front_is_read_too():
    # what str() of the JS error shows: "AiError: 5028: ..." (facts-14 §3, [I32501])
    error = from_workers_ai_message(f"AiError: {BINDING_ERRORS['5028']['message']}", model=MODEL)
    assert isinstance(error, ModelRetired) and error.status == 410


def test_a_retired_model_error_carries_what_the_catalog_integration_needs():
    error = from_workers_ai_message(BINDING_ERRORS["5028"]["message"], model=MODEL)
    assert isinstance(error, ModelRetired)
    assert (error.model, error.retired_on.isoformat(), error.successor) == (
        MODEL,
        "2026-05-30",
        "@cf/meta/llama-3.1-8b-instruct-fast",
    )


def test_a_retired_model_unknown_to_the_catalog_names_no_successor():
    error = from_workers_ai_message("5028: This model was deprecated", model="@cf/x/unknown-1b")
    assert isinstance(error, ModelRetired) and error.successor is None
    assert (
        error.message == "model @cf/x/unknown-1b was retired; choose another model from /v1/models"
    )


def test_the_daily_allocation_lasts_until_midnight_utc():
    assert until_utc_midnight(NOW) == 3_600.5
    assert until_utc_midnight(1_780_099_200) == 86_400  # at midnight: the next one


def test_the_daily_allocation_error_is_not_retried():
    ai = ScriptedAI()
    quota = from_workers_ai_message(BINDING_ERRORS["3036"]["message"], now=NOW)
    ai.script(raise_error=quota)
    ai.script(text="would have answered")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    resilient = ResilientAI(ai, CallPolicy(retries=2), sleep=sleep)
    with pytest.raises(BackendQuotaExceeded) as caught:
        asyncio.run(resilient.run(MODEL, {"prompt": "hi"}))
    assert len(ai.calls) == 1 and waits == []
    assert caught.value.retry_after == 3_600.5 and not caught.value.retryable


def test_a_capacity_error_is_retried():
    ai = ScriptedAI()
    ai.script(raise_error=from_workers_ai_message(BINDING_ERRORS["3040"]["message"]))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    result = asyncio.run(
        ResilientAI(ai, CallPolicy(retries=2), sleep=sleep).run(MODEL, {"prompt": "hi"})
    )
    assert result["response"] == "echo: hi" and len(ai.calls) == 2 and waits == [2.0]
