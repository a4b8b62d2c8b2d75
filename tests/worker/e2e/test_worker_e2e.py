"""What only the Worker has, under real Pyodide: the per-key Durable Object deciding a burst
exactly, usage kept in the object's SQLite, keys in KV, and a harness without a network."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests.support.worker_harness import Worker, running_worker

BARE_WORKER = """
from workers import WorkerEntrypoint, fetch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await fetch("https://example.com/")
"""


def test_exactly_the_limit_of_150_concurrent_requests_is_admitted(worker: Worker) -> None:
    key = worker.new_key("burst", rpm=100)

    async def burst() -> Counter[int]:
        headers = {"authorization": f"Bearer {key}"}
        limits = httpx.Limits(max_connections=150)
        async with httpx.AsyncClient(base_url=worker.url, headers=headers, limits=limits) as client:
            answers = await asyncio.gather(*(client.get("/v1/models") for _ in range(150)))
        return Counter(answer.status_code for answer in answers)

    assert asyncio.run(burst()) == {200: 100, 429: 50}


def test_usage_is_counted_in_the_keys_durable_object(worker: Worker) -> None:
    key = worker.new_key("usage")
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=worker.url, headers=headers, timeout=120) as client:
        answer = client.post("/api/llm/generate", json={"prompt": "Hi.", "max_tokens": 5})
        assert answer.status_code == 200, answer.text
        tokens = answer.json()["usage"]
        (today,) = client.get("/api/llm/usage", params={"days": 1}).json()["days"]
    assert today["requests"] == 1
    assert today["prompt_tokens"] == tokens["prompt_tokens"]
    assert today["completion_tokens"] == tokens["completion_tokens"]


def test_a_revoked_key_is_refused_at_once(worker: Worker) -> None:
    key = worker.new_key("revoked")
    key_id = key.split("_")[1]
    admin = {"authorization": f"Bearer {worker.admin_token}"}
    assert httpx.delete(f"{worker.url}/admin/keys/{key_id}", headers=admin).status_code == 200
    answer = httpx.get(f"{worker.url}/v1/models", headers={"authorization": f"Bearer {key}"})
    assert answer.status_code == 401  # KV here is strongly consistent; Cloudflare's is not


def test_a_worker_that_reaches_for_the_network_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "bare.py").write_text(BARE_WORKER)
    with running_worker(main="bare", src=tmp_path, vars={}) as bare:
        answer = httpx.get(f"{bare.url}/", timeout=30)
        assert answer.status_code == 500
        assert "the Worker harness has no network" in bare.log_path.read_text()
