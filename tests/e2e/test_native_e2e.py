"""The native API end to end: real server, real embedded model, real HTTP.

Also run against the Worker under Pyodide (tests/worker/e2e/), whose AI binding forwards to
the embedded model; ``engine`` is the engine the server names in ``x-llm-backend``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from llm_api.catalog import MODELS

PROMPT = "Write three sentences about learning Spanish."


def test_health_and_models(http: httpx.Client) -> None:
    health = http.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    models = http.get("/api/llm/models").json()["models"]
    ids = [m["id"] for m in models]
    assert ids[:6] == [model.id for model in MODELS]  # the seed's six first, then today's
    assert "@cf/zai-org/glm-4.7-flash" in ids[6:]


def test_generate_returns_text_and_real_usage(http: httpx.Client, engine: str | None) -> None:
    response = http.post(
        "/api/llm/generate", json={"prompt": PROMPT, "max_tokens": 40, "temperature": 0}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-llm-backend"].startswith(engine or "")
    body = response.json()
    assert body["model"] == "@cf/meta/llama-4-scout-17b-16e-instruct"
    assert body["text"].strip()
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 40
    assert usage["prompt_tokens"] > 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_json_mode_returns_valid_json(http: httpx.Client) -> None:
    response = http.post(
        "/api/llm/chat/completions",
        json={
            "messages": [
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": "Give a word and its translation to French."},
            ],
            "response_format": {"type": "json_object"},
            "max_tokens": 80,
            "temperature": 0,
        },
    )
    assert response.status_code == 200, response.text
    assert isinstance(json.loads(response.json()["text"]), dict)


def test_stream_delivers_tokens_while_the_model_is_still_generating(http: httpx.Client) -> None:
    arrivals: list[float] = []
    events: list[object] = []
    payload = {"prompt": PROMPT, "stream": True, "max_tokens": 120, "temperature": 0}
    start = time.monotonic()
    with http.stream("POST", "/api/llm/generate", json=payload) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
                arrivals.append(time.monotonic() - start)
    assert events[-1] == "[DONE]"
    final = events[-2]
    assert isinstance(final, dict) and final["usage"]["completion_tokens"] > 10
    tokens = [e for e in events[:-2] if isinstance(e, dict) and e.get("response")]
    assert len(tokens) >= 10, "one event per token"
    first_token_at, done_at = arrivals[0], arrivals[-1]
    # Not buffered: the first token arrives well before generation finishes.
    assert first_token_at < done_at * 0.5, (first_token_at, done_at)


@pytest.mark.embedded_model
def test_streamed_text_equals_non_streamed_text_at_temperature_zero(http: httpx.Client) -> None:
    payload = {"prompt": "Name two colors.", "max_tokens": 30, "temperature": 0, "seed": 1}
    whole = http.post("/api/llm/generate", json=payload).json()["text"]
    with http.stream("POST", "/api/llm/generate", json={**payload, "stream": True}) as response:
        pieces = [
            json.loads(line[6:]).get("response", "")
            for line in response.iter_lines()
            if line.startswith("data: {")
        ]
    assert "".join(pieces) == whole


@pytest.mark.embedded_model
def test_concurrent_requests_are_all_answered_correctly(base_url: str, http: httpx.Client) -> None:
    payload = {"prompt": "Say hello in Italian.", "max_tokens": 20, "temperature": 0}
    expected = http.post("/api/llm/generate", json=payload).json()["text"]

    def call(_: int) -> str:
        response = http.post("/api/llm/generate", json=payload)
        assert response.status_code == 200
        return response.json()["text"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(call, range(4)))
    assert answers == [expected] * 4


def test_invalid_input_is_a_400_naming_the_field(http: httpx.Client) -> None:
    response = http.post("/api/llm/generate", json={"prompt": "x", "temperature": "hot"})
    assert response.status_code == 400
    assert "temperature" in response.json()["error"]
    response = http.post("/api/llm/generate", json={"prompt": "x", "model": "nope"})
    assert response.status_code == 400
    assert "nope" in response.json()["error"]
