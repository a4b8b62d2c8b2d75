"""The ``workers-ai`` backend's live catalog: ``GET /ai/models/search`` in pages of 50 until a
short page (facts-14 §1 [API][WR]), against the fake Cloudflare REST API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import ModelSource, Platform, fixed_platform
from llm_api.errors import BackendError
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.fake_upstreams import FakeWorkersAI, workers_ai_upstream
from tests.support.model_listing import NEWCOMER, listing


@pytest.fixture
def fake() -> Iterator[FakeWorkersAI]:
    with workers_ai_upstream() as upstream:
        upstream.state.model_listing = listing()
        yield upstream


def backend(fake: FakeWorkersAI, token: str | None = None) -> WorkersAIRestBackend:
    return WorkersAIRestBackend(fake.account_id, token or fake.token, base_url=fake.base_url)


async def list_models(backend: WorkersAIRestBackend) -> list[object]:
    try:
        return await backend.list_models()
    finally:
        await backend.aclose()


def test_the_rest_backend_reads_model_search_pages_until_a_short_one(fake):
    entries = asyncio.run(list_models(backend(fake)))
    assert len(entries) == len(listing()) == 57
    assert fake.state.model_searches == [
        {"task": "Text Generation", "per_page": "50", "page": "1"},
        {"task": "Text Generation", "per_page": "50", "page": "2"},
    ]


def test_a_failed_model_search_raises_for_the_cache_to_keep_its_copy(fake):
    with pytest.raises(BackendError, match="Authentication error"):
        asyncio.run(list_models(backend(fake, token="wrong")))
    assert len(fake.state.model_searches) == 1  # no second page after a failed first


def test_the_workers_ai_backend_serves_a_model_only_its_account_lists(fake):
    rest = backend(fake)
    assert isinstance(rest, ModelSource)
    platform = Platform(rest, Settings(), MemoryKeyStore(), InProcessLimiter(), MemoryUsageStore())
    key, record = new_key("tests")
    asyncio.run(platform.keys.put(record))
    with TestClient(
        create_app(fixed_platform(platform)), headers={"authorization": f"Bearer {key}"}
    ) as client:
        ids = [m["id"] for m in client.get("/api/llm/models").json()["models"]]
        assert NEWCOMER in ids
        response = client.post("/api/llm/generate", json={"prompt": "hi", "model": NEWCOMER})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == NEWCOMER
        assert fake.state.requests[-1].path.endswith(f"/ai/run/{NEWCOMER}")
        client.portal.call(rest.aclose)  # its session lives on the client's loop
    assert len(fake.state.model_searches) == 2  # one listing (two pages) for the TTL
