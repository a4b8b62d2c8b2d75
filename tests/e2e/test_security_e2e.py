"""Keys, rate limits and CORS on the real server, with real clients.

The server runs the `openai` backend in front of the fast fake upstream, so these
tests measure the gateway, not the model. tests/worker/e2e/ runs the first three against
the Worker under Pyodide (its Durable Object is the rate limiter there).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.server import Server, running_server, serving
from tests.support.fake_upstreams import openai_upstream

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Server]:
    with openai_upstream() as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        with running_server(["--backend", "openai"], env) as server:
            yield server


def test_no_key_raises_authentication_error(gateway: Server) -> None:
    with (
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="llmk_wrong", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        sdk.models.list()
    assert caught.value.code == "invalid_api_key"
    assert httpx.get(f"{gateway.url}/health").status_code == 200


def test_rate_limit_error_and_the_sdk_waits_retry_after(gateway: Server) -> None:
    key = gateway.new_key("tight", rpm=2)
    sent: list[float] = []
    http_client = httpx.Client(event_hooks={"request": [lambda _: sent.append(time.monotonic())]})
    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, http_client=http_client)
    with http_client:
        _rate_limit_then_retry(sdk, sent)


def _rate_limit_then_retry(sdk: openai.OpenAI, sent: list[float]) -> None:
    impatient = sdk.with_options(max_retries=0)
    for _ in range(2):
        impatient.chat.completions.create(model="llama-3-8b-instruct", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as caught:
        impatient.chat.completions.create(model="llama-3-8b-instruct", messages=MESSAGES)
    headers = caught.value.response.headers
    retry_after = int(headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"
    # With retries on, the SDK sleeps for Retry-After and then succeeds.
    started = len(sent)
    completion = sdk.with_options(max_retries=1).chat.completions.create(
        model="llama-3-8b-instruct", messages=MESSAGES
    )
    assert completion.choices[0].message.content
    first, retry = sent[started], sent[started + 1]
    assert retry - first >= retry_after - 1.5


def test_cors_preflight_and_a_cross_origin_stream(gateway: Server) -> None:
    origin = {"origin": "http://127.0.0.1:5173"}
    preflight = httpx.options(
        f"{gateway.url}/api/llm/generate",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    auth = {"authorization": f"Bearer {gateway.key}"}
    with httpx.stream(
        "POST",
        f"{gateway.url}/api/llm/generate",
        json={"prompt": "hello", "stream": True},
        headers={**origin, **auth},
    ) as response:
        assert response.headers["access-control-allow-origin"] == "*"
        assert "x-ratelimit-remaining-requests" in response.headers["access-control-expose-headers"]
        assert response.read().endswith(b"data: [DONE]\n\n")


def test_first_start_prints_a_working_development_key(tmp_path: Path) -> None:
    with openai_upstream() as fake:
        env = {"OPENAI_BASE_URL": fake.base_url}
        args = ["--backend", "openai", "--state-dir", str(tmp_path)]
        with serving(args, env) as (url, log):
            lines = log.read_text().splitlines()
            key = next(line.split()[-1] for line in lines if line.startswith("  Dev key "))
            assert key.startswith("llmk_")
            response = httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {key}"})
            assert response.status_code == 200
        # a second start finds the key and prints none
        with serving(args, env) as (_, log):
            assert "  Dev key " not in log.read_text()
