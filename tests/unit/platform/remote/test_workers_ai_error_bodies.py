"""Workers AI's REST error bodies (``fixtures/workers_ai/errors-rest.json``) through the REST
backend and the whole app, in every family (issue 14, item 6); ``rejectIfBusy`` in the body's
``options`` and ``x-session-affinity`` as a header (items 6 and 7).

The fake REST API (tests/support/fake_upstreams.py) answers ``fixture<key>`` with the entry's
HTTP status and body: ``errors[0].code`` with ``AiError: `` and request-id decorations, and a
404 with no code at all (facts-14 §0.4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import httpx
import pytest

from llm_api.app import create_app
from llm_api.binding import upstream_errors
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.http.test_workers_ai_error_codes import EXPECTED, NOW, Expected, check_envelope
from tests.support.fake_upstreams import REST_ERROR_FIXTURES, FakeWorkersAI, workers_ai_upstream

MODEL = "@cf/meta/llama-3.2-3b-instruct"  # active: nothing answers for it before the call
_REQUEST = "invalid_request_error"
_GONE = Expected(404, 400, _REQUEST, "model_not_found", "NOT_FOUND", False, None, "")
#: fixture key: what each family answers (the binding tests' expectations, REST texts)
REST_EXPECTED = {
    "5028_retired": replace(
        EXPECTED["5028"],
        message="was retired by Cloudflare",  # the host's catalog records it (serving.py)
    ),
    "5035_workers_paid": EXPECTED["5035"],
    "3036_daily_allocation": EXPECTED["3036"],
    "3040_no_capacity": replace(EXPECTED["3040"], message="No more data centers"),
    "3040_reject_if_busy": EXPECTED["3040"],
    # the "AiError: " prefix and the upstream's "(request id)" are not shown
    "5006_bad_input": replace(EXPECTED["5006"], message="Workers AI: Bad input: Error: oneOf"),
    "3010_invalid_input": replace(EXPECTED["5006"], message="Invalid or incomplete input"),
    "3042_invalid_model": EXPECTED["3042"],
    "5007_no_such_model": EXPECTED["5007"],
    "3006_too_large": EXPECTED["3006"],
    "3007_timeout": EXPECTED["3007"],
    "3008_aborted": replace(EXPECTED["3007"], message="Request was aborted"),
    # no code: by the HTTP status, the text (not documented) withheld
    "no_code_404_route": replace(_GONE, message="Workers AI answered 404"),
}
FAMILIES = {
    "native": ("/api/llm/generate", "prompt"),
    "v1": ("/api/v1/llm/chat", "messages"),
    "openai": ("/v1/chat/completions", "messages"),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream() as upstream:
        yield upstream


def post(
    fake: FakeWorkersAI, path: str, body: dict, headers: dict[str, str] | None = None
) -> httpx.Response:
    """One request through the app over the REST backend to ``fake``."""

    async def scenario() -> httpx.Response:
        backend = WorkersAIRestBackend(fake.account_id, fake.token, base_url=fake.base_url)
        platform = Platform(
            ai=backend,
            settings=Settings(backend_retries=0),
            keys=MemoryKeyStore(),
            limiter=InProcessLimiter(),
            usage=MemoryUsageStore(),
        )
        key, record = new_key("tests")
        await platform.keys.put(record)
        transport = httpx.ASGITransport(app=create_app(fixed_platform(platform)))
        try:
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://app",
                headers={"authorization": f"Bearer {key}", **(headers or {})},
            ) as client:
                return await client.post(path, json=body)
        finally:
            await backend.aclose()

    return asyncio.run(scenario())


def body_for(family: str, text: str) -> dict:
    if FAMILIES[family][1] == "prompt":
        return {"prompt": text, "model": MODEL}
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


def test_every_rest_fixture_has_an_expectation():
    assert {f"fixture{key}" for key in REST_EXPECTED} == set(REST_ERROR_FIXTURES)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("key", REST_EXPECTED)
def test_each_rest_error_body_has_its_status_and_envelope(fake, monkeypatch, key, family, stream):
    monkeypatch.setattr(upstream_errors, "time", SimpleNamespace(time=lambda: NOW))
    body = {**body_for(family, f"fixture{key} please"), "stream": stream}
    response = post(fake, FAMILIES[family][0], body)
    check_envelope(
        family, REST_EXPECTED[key], response.status_code, response.headers, response.json()
    )
    assert "3f2a9c1e" not in response.text and "AiError" not in response.text
    assert "No route for that URI" not in response.text


def test_the_daily_allocation_is_not_retried_over_rest(fake: FakeWorkersAI, monkeypatch):
    monkeypatch.setattr(upstream_errors, "time", SimpleNamespace(time=lambda: NOW))
    from llm_api.binding.resilient import CallPolicy, ResilientAI
    from llm_api.errors import BackendQuotaExceeded

    backend = WorkersAIRestBackend(fake.account_id, fake.token, base_url=fake.base_url)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> None:
        try:
            resilient = ResilientAI(backend, CallPolicy(retries=2), sleep=sleep)
            await resilient.run(MODEL, {"prompt": "fixture3036_daily_allocation"})
        finally:
            await backend.aclose()

    before = len(fake.state.requests)
    with pytest.raises(BackendQuotaExceeded) as caught:
        asyncio.run(go())
    assert len(fake.state.requests) == before + 1 and waits == []
    assert caught.value.retry_after == 3_600.5


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_reject_if_busy_and_the_session_header_reach_the_rest_request(fake, stream):
    body = {**body_for("native", "hello"), "stream": stream}
    response = post(fake, "/api/llm/generate", body, {"x-session-affinity": "c-42"})
    assert response.status_code == 200
    sent = fake.state.requests[-1]
    assert sent.body["options"] == {"rejectIfBusy": True}
    assert sent.headers["x-session-affinity"] == "c-42"
    assert sent.headers["authorization"] == f"Bearer {fake.token}"


def test_prompt_cache_key_is_the_session_header_over_rest(fake):
    body = {**body_for("openai", "hello"), "prompt_cache_key": "conversation-9"}
    response = post(fake, "/v1/chat/completions", body, {"x-session-affinity": "ignored"})
    assert response.status_code == 200
    assert fake.state.requests[-1].headers["x-session-affinity"] == "conversation-9"
