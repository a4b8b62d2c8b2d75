"""env.AI with both I/O shapes (issue 14, item 4): the inputs a Chat Completions model gets,
its answers read, and a ``stream: true`` call whose body is JSON (gpt-oss, facts-14 §0.2)."""

from __future__ import annotations

import asyncio
import importlib
import json
from types import ModuleType

import pytest

from tests.support.shape_fixtures import stream_chunks, whole
from tests.support.workers_fake import installed
from tests.support.workers_fake.bindings import FakeAI

GLM = "@cf/zai-org/glm-4.7-flash"
OSS = "@cf/openai/gpt-oss-120b"


@pytest.fixture
def workers() -> ModuleType:
    with installed():
        yield importlib.import_module("llm_api.platform.workers.provider")


def test_a_chat_completions_model_gets_chat_completions_inputs(workers):
    ai = FakeAI(whole("chat-whole-glm-text"))
    inputs = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "top_k": 3}
    result = asyncio.run(workers.WorkersAIBinding(ai).run(GLM, inputs))
    assert ai.inputs() == {"messages": inputs["messages"], "max_completion_tokens": 9}
    assert result["response"] == "Bonjour ! Comment vas-tu ?"
    assert result["reasoning"] == "A short French greeting is enough."


def test_a_legacy_model_keeps_legacy_inputs(workers):
    ai = FakeAI(whole("legacy-whole"))
    inputs = {"prompt": "hi", "max_tokens": 9, "reasoning_effort": "low"}
    asyncio.run(workers.WorkersAIBinding(ai).run("@cf/meta/llama-3.2-3b-instruct", inputs))
    assert ai.inputs() == {"prompt": "hi", "max_tokens": 9}


@pytest.mark.parametrize("split", [1, 7, 4096])
def test_a_stream_request_whose_body_is_json_comes_back_as_a_result(workers, split):
    body = b"  " + json.dumps(whole("gptoss-stream-true-returns-json")).encode()
    ai = FakeAI([body[i : i + split] for i in range(0, len(body), split)])
    inputs = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    result = asyncio.run(workers.WorkersAIBinding(ai).run(OSS, inputs))
    assert result["response"] == "Bonjour !"
    assert result["reasoning"] == "Greeting requested."
    assert ai.inputs()["stream_options"] == {"include_usage": True}
    assert ai.streams[0].lock_released


def test_a_chat_completions_stream_passes_through_untouched(workers):
    chunks = stream_chunks("chat-stream-text")
    ai = FakeAI(chunks)

    async def collect() -> list[bytes]:
        inputs = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        stream = await workers.WorkersAIBinding(ai).run(GLM, inputs)
        return [chunk async for chunk in stream]

    assert asyncio.run(collect()) == chunks
