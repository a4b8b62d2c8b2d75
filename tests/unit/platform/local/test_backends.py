"""Every local backend is a ``LocalBackend``: the host loads and closes each the same way."""

from __future__ import annotations

import asyncio

import pytest

from llm_api.platform.local.platform import build_backend
from llm_api.settings import ServeSettings, load

ENV = {
    "CLOUDFLARE_ACCOUNT_ID": "acct",
    "CLOUDFLARE_API_TOKEN": "token",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
}


@pytest.mark.parametrize("backend", ["workers-ai", "openai"])
def test_a_remote_backend_loads_without_opening_a_connection(backend: str):
    remote = build_backend(load(ServeSettings, ENV, {"backend": backend}))

    async def lifecycle() -> object:
        await remote.load()
        opened = remote._client  # type: ignore[attr-defined]
        await remote.aclose()
        return opened

    assert asyncio.run(lifecycle()) is None  # opened on first use, in the serving loop
