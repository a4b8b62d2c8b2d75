"""A client that goes away mid-stream stops the work behind its stream, over real HTTP.

* In front of an OpenAI-compatible upstream (the fake in tests/, scenario ``endless``:
  it streams until its client goes away), the gateway closes its upstream stream: the
  upstream sees the disconnect within a couple of seconds, on every API family.
* With the embedded model, generation stops: the server's CPU falls idle at once
  instead of sampling the rest of a 2,000-token answer, and the next request is served
  promptly (the one generation thread is free).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import Server, running_server
from tests.support.fake_upstreams import FakeOpenAI, openai_upstream

#: how soon the upstream must see the disconnect
DISCONNECT_WITHIN_S = 3.0
EVENTS_BEFORE_LEAVING = 5


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with openai_upstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(openai_fake: FakeOpenAI) -> Iterator[Server]:
    env = {"OPENAI_BASE_URL": openai_fake.base_url, "OPENAI_MODEL": "served-model"}
    with running_server(["--backend", "openai"], env) as server:
        yield server


def read_events_then_leave(
    base_url: str, key: str, path: str, body: dict[str, object], events: int
) -> list[str]:
    """Stream ``path``, read ``events`` data events, then close the connection."""
    seen: list[str] = []
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200, response.read()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    seen.append(line.removeprefix("data: "))
                    if len(seen) >= events:
                        break
        # leaving the block closes the response unread: the connection is dropped
    return seen


STREAMS = {
    "openai": ("/v1/chat/completions", "messages"),
    "native": ("/api/llm/generate", "prompt"),
    "native-chat": ("/api/llm/chat/completions", "messages"),
    "v1": ("/api/v1/llm/chat", "messages"),
}


@pytest.mark.parametrize("family", list(STREAMS))
def test_the_upstream_stream_is_closed_when_the_client_leaves(
    gateway: Server, openai_fake: FakeOpenAI, family: str
) -> None:
    path, field = STREAMS[family]
    prompt = f"endless story for the {family} family"
    body: dict[str, object] = {"model": "llama-3.2-3b-instruct", "stream": True}
    body[field] = prompt if field == "prompt" else [{"role": "user", "content": prompt}]

    seen = read_events_then_leave(gateway.url, gateway.key, path, body, EVENTS_BEFORE_LEAVING)
    left_at = time.monotonic()
    assert "[DONE]" not in seen  # still streaming when the client left

    while openai_fake.state.outcomes.get(prompt) is None:
        assert time.monotonic() - left_at < DISCONNECT_WITHIN_S, (
            f"the upstream stream of {path} was still open {DISCONNECT_WITHIN_S}s after "
            "its client left"
        )
        time.sleep(0.02)
    assert openai_fake.state.outcomes[prompt] == "disconnected"

    # and the gateway is fine: the next stream completes
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        headers = {"authorization": f"Bearer {gateway.key}"}
        again = http.post(path, json={**body, "stream": False}, headers=headers)
    assert again.status_code == 200, again.text


# ---- the embedded model ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, window_s: float = 0.5) -> float:
    """Cores' worth of CPU that ``pid`` used over the next ``window_s`` seconds."""
    before = cpu_seconds(pid)
    time.sleep(window_s)
    return (cpu_seconds(pid) - before) / window_s


BUSY_CORES = 0.15  # SmolLM2 streaming keeps about half a core busy here (2 cores)
IDLE_CORES = 0.06  # an idle uvicorn process uses next to nothing (0 to 0.04 seen)
READ_FOR_S = 1.0


def test_embedded_generation_stops_when_the_client_leaves(server: Server | None) -> None:
    if server is None:
        pytest.skip("watches the server process: only with the server this suite starts")
    body = {
        "prompt": "Write a very long story about a lighthouse keeper, in many chapters.",
        "max_tokens": 2000,
        "temperature": 0.8,
        "seed": 7,
        "stream": True,
    }
    headers = {"authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        with http.stream("POST", "/api/llm/generate", json=body) as response:
            assert response.status_code == 200
            events = 0
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                assert line != "data: [DONE]", "the answer ended before the client left"
                events += 1
                if events == 1:
                    reading_since, cpu_before = time.monotonic(), cpu_seconds(server.pid)
                elif time.monotonic() - reading_since >= READ_FOR_S:
                    break
            busy = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - reading_since)
            assert busy > BUSY_CORES, f"the model was not generating ({busy:.2f} cores)"
            response.close()  # leave, with most of the 2,000 tokens still to come
    left_at = time.monotonic()
    while (share := cpu_share(server.pid)) > IDLE_CORES:
        assert time.monotonic() - left_at < DISCONNECT_WITHIN_S, (
            f"still {share:.2f} cores busy {DISCONNECT_WITHIN_S}s after the client left"
        )

    started = time.monotonic()
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        reply = http.post("/api/llm/generate", json={"prompt": "Say hi.", "max_tokens": 8})
    assert reply.status_code == 200, reply.text
    assert json.loads(reply.text)["usage"]["completion_tokens"] <= 8
    assert time.monotonic() - started < 5.0  # not queued behind the abandoned answer
