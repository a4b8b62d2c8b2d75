"""Every local backend is a ``LocalBackend``: the host loads and closes each the same way;
and the host keeps its state (stored responses too) in the state folder."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from llm_api.platform.local.platform import build_backend, build_local_host
from llm_api.platform.local.response_store import SqliteResponseStore
from llm_api.platform.local.state import state_db_path
from llm_api.settings import ServeSettings, Settings, load

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


def test_the_local_host_keeps_stored_responses_in_its_state_database(tmp_path: Path):
    serve = load(ServeSettings, ENV, {"backend": "openai", "state_dir": tmp_path / "state"})
    responses = build_local_host(serve, Settings()).platform.responses
    assert isinstance(responses, SqliteResponseStore)  # not the in-memory default
    assert responses.path == state_db_path(tmp_path / "state")

    async def across_a_restart() -> str | None:
        await responses.save("keyaaaaaaaaa", "resp_1", "{}", created_at=int(time.time()))
        responses.close()
        again = build_local_host(serve, Settings()).platform.responses
        assert isinstance(again, SqliteResponseStore)
        try:
            return await again.load("keyaaaaaaaaa", "resp_1")
        finally:
            again.close()

    assert asyncio.run(across_a_restart()) == "{}"
