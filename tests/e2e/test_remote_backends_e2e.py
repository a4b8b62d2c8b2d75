"""`llm-api serve --backend openai|workers-ai` in front of the fake upstreams in tests/,
driven over HTTP by the official `openai` SDK and httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.e2e.server import Server, running_server
from tests.support.fake_upstreams import (
    FakeOpenAI,
    FakeWorkersAI,
    openai_upstream,
    workers_ai_upstream,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": {key: {"type": "string"}}},
        },
    }
    for name, key in (("get_weather", "city"), ("get_time", "timezone"))
]
TOOL_MODEL = "llama-4-scout-17b-16e-instruct"


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with openai_upstream(api_key="upstream-secret") as fake:
        yield fake


@pytest.fixture(scope="module")
def via_openai(openai_fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    env = {
        "OPENAI_BASE_URL": openai_fake.base_url,
        "OPENAI_API_KEY": "upstream-secret",
        "OPENAI_MODEL": "served-model",
    }
    with running_server(["--backend", "openai"], env) as server:
        with openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key, max_retries=0) as sdk:
            yield sdk


@pytest.fixture(scope="module")
def via_workers_ai() -> Iterator[tuple[Server, FakeWorkersAI]]:
    with workers_ai_upstream(token="cf-token") as fake:
        env = {
            "CLOUDFLARE_ACCOUNT_ID": fake.account_id,
            "CLOUDFLARE_API_TOKEN": "cf-token",
            "CLOUDFLARE_API_BASE_URL": fake.base_url,
        }
        with running_server(["--backend", "workers-ai"], env) as server:
            yield server, fake


def test_openai_backend_text_and_upstream_model(via_openai, openai_fake) -> None:
    completion = via_openai.chat.completions.create(
        model="llama-3.2-3b-instruct", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content == "Hello from the fake upstream."
    assert completion.model == "@cf/meta/llama-3.2-3b-instruct"
    assert openai_fake.state.requests[-1].body["model"] == "served-model"


def test_openai_backend_scripted_tool_calls(via_openai) -> None:
    completion = via_openai.chat.completions.create(
        model=TOOL_MODEL, messages=[{"role": "user", "content": "twotools please"}], tools=TOOLS
    )
    calls = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]


def test_openai_backend_streamed_tool_calls_join_back(via_openai) -> None:
    stream = via_openai.chat.completions.create(
        model=TOOL_MODEL,
        messages=[{"role": "user", "content": "twotools please"}],
        tools=TOOLS,
        stream=True,
    )
    joined: dict[int, dict[str, str]] = {}
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = joined.setdefault(delta.index, {"name": "", "arguments": ""})
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""
    assert [(c["name"], json.loads(c["arguments"])) for c in joined.values()] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]


def test_openai_backend_errors_reach_the_sdk_typed(via_openai) -> None:
    with pytest.raises(openai.InternalServerError) as busy:
        via_openai.chat.completions.create(
            model="llama-3.2-3b-instruct", messages=[{"role": "user", "content": "ratelimit"}]
        )
    assert busy.value.status_code == 503
    assert busy.value.response.headers["retry-after"]
    stream = via_openai.chat.completions.create(
        model="llama-3.2-3b-instruct",
        messages=[{"role": "user", "content": "midstream"}],
        stream=True,
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_workers_ai_backend_stream_and_capacity_error(via_workers_ai) -> None:
    server, fake = via_workers_ai
    auth = {"authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as http:
        response = http.post("/api/llm/generate", json={"prompt": "hello", "stream": True})
        assert response.headers["x-llm-backend"] == "workers-ai"
        texts = [
            json.loads(line[6:]).get("response", "")
            for line in response.text.splitlines()
            if line.startswith("data: {")
        ]
        assert "".join(texts) == "Hello from the fake upstream."
        assert response.text.endswith("data: [DONE]\n\n")
        busy = http.post("/api/llm/generate", json={"prompt": "capacity"})
        assert busy.status_code == 503
        assert int(busy.headers["retry-after"]) >= 1
        assert "Capacity" in busy.json()["error"]
    assert fake.state.requests[0].headers["authorization"] == "Bearer cf-token"
