"""Workers AI faults through a real ``llm-api serve --backend workers-ai``, over HTTP.

The fake Workers AI REST API in tests/ fails as Cloudflare does (its error codes in
``{"errors": [...]}``, or an HTML 502 from a proxy); every API family must answer each
fault with its status, its envelope and its headers, whole or streamed (a stream that
fails before its first byte gets a real status, not an SSE error). Retries are off here
(LLM_API_BACKEND_RETRIES=0): each fault reaches the upstream exactly once, and what the
client sees is the mapping itself; tests/unit/binding/test_resilient.py covers retrying.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import Server, running_server
from tests.support.fake_upstreams import FakeWorkersAI, workers_ai_upstream
from tests.support.upstream_faults import FAULTS, ROUTES, Fault, check_answer, request_body

TOKEN = "cf-token-not-to-be-leaked"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream(token=TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(upstream: FakeWorkersAI) -> Iterator[Server]:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": upstream.account_id,
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_API_BASE_URL": upstream.base_url,
        "LLM_API_BACKEND_RETRIES": "0",
    }
    with running_server(["--backend", "workers-ai"], env) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.word for fault in FAULTS])
def test_each_workers_ai_fault_in_each_family(
    gateway: Server, upstream: FakeWorkersAI, fault: Fault, stream: bool
) -> None:
    headers = {"authorization": f"Bearer {gateway.key}"}
    calls_before = len(upstream.state.requests)
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as http:
        for route in ROUTES:
            response = http.post(route.path, json=request_body(route, fault.word, stream=stream))
            check_answer(
                fault,
                route,
                response.status_code,
                response.headers,
                response.json(),
                secrets=[TOKEN, upstream.url, upstream.account_id],
            )
    assert len(upstream.state.requests) - calls_before == len(ROUTES)  # once each, no retry


def test_the_gateway_still_answers_after_every_fault(gateway: Server) -> None:
    headers = {"authorization": f"Bearer {gateway.key}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as http:
        for route in ROUTES:
            response = http.post(route.path, json=request_body(route, "nothing", stream=True))
            assert response.status_code == 200, response.text
            assert response.text.endswith("data: [DONE]\n\n")
