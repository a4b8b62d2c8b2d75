"""Schemathesis against the app's own ``/openapi.json``, over ASGI, with the scripted binding.

For every operation it sends generated requests, valid and invalid (bounded, seeded by
``derandomize``, so CI sees the same cases every run), with a valid key (the admin token
on ``/admin``), and checks that no answer is a server error and that every answer is
documented: its status explicitly, its content type, and its body's schema.

Nothing is excluded. One allowance, in ``not_a_server_error_but``: the structured
endpoints below ask the model for JSON of a fixed shape, which the scripted binding
cannot write for arbitrary inputs, so their documented 502 (the model's answer was
invalid twice) is expected there — and only that 502, only there.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    is_unexpected_http_status_case,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.scripted_ai import ScriptedAI

#: per operation and phase; LLM_API_FUZZ_EXAMPLES=1500 explores far deeper (about 15 minutes)
EXAMPLES_PER_OPERATION = int(os.environ.get("LLM_API_FUZZ_EXAMPLES", "30"))
ADMIN_TOKEN = "admin-token-for-the-fuzzer"
STRUCTURED = frozenset(
    {
        "/api/v1/llm/optimize-prompt",
        "/api/llm/level-feedback",
        "/api/llm/conversation-topics",
        "/api/llm/session-summary",
    }
)
INVALID_OUTPUT = "the model did not produce a valid"


class FuzzAI(ScriptedAI):
    """The scripted binding, answering a JSON object when the request asks for JSON
    (``response_format``), so JSON mode succeeds as it would on a real model."""

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> Any:
        self.calls.clear()  # thousands of calls: keep none
        if inputs.get("response_format"):
            self.script(text='{"answer": "fuzzed"}')
        return await super().run(model, inputs, options)


def build_app() -> tuple[Any, str]:
    settings_ = Settings(backend_retries=0, rate_limit_rpm=100_000, admin_token=ADMIN_TOKEN)
    platform = Platform(
        ai=FuzzAI(),
        settings=settings_,
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
    )
    key, record = new_key("fuzzer")
    asyncio.run(platform.keys.put(record))
    return create_app(fixed_platform(platform)), key


APP, API_KEY = build_app()
#: what may answer a request that breaks the schema: a 400, or the limits checked before
#: validation (413 too large, 415 not JSON), a method the path lacks (405), or an id that
#: does not exist (404: a path parameter that breaks its rule names nothing)
REJECTIONS = [400, 404, 405, 413, 415]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


def status_explicitly_documented(ctx: Any, response: Any, case: Any) -> None:
    """Stricter than ``status_code_conformance``: the documents' ``4XX`` catch-all (there
    so FastAPI leaves out its 422) must not be what makes a status documented. Requests
    with a method the operation lacks are ``unsupported_method``'s business (405)."""
    if is_unexpected_http_status_case(case):
        return
    documented = case.operation.responses.status_codes
    assert str(response.status_code) in documented, (
        f"status {response.status_code} is not listed for {case.operation.label}; "
        f"listed: {', '.join(documented)}"
    )


def not_a_server_error_but(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, except the structured endpoints' documented 502."""
    if case.path in STRUCTURED and response.status_code == 502:
        body = response.json()
        error = body["error"]
        message = error if isinstance(error, str) else error["message"]
        assert message.startswith(INVALID_OUTPUT), message
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but,
    status_code_conformance,
    status_explicitly_documented,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    unsupported_method,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],  # a busy CI machine is no failure
)
def test_openapi_conformance(case: schemathesis.Case) -> None:
    token = ADMIN_TOKEN if case.path.startswith("/admin") else API_KEY
    case.call_and_validate(headers={"authorization": f"Bearer {token}"}, checks=CHECKS)
