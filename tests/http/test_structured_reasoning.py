"""Structured jobs on reasoning models turn thinking off or low (issue 14, item 5): the
prompt optimiser and the tutor go through ``generate_structured``, which marks its requests."""

from __future__ import annotations

import pytest

from llm_api.settings import Settings


@pytest.fixture(
    params=[
        ("glm-4.7-flash", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("gpt-oss-120b", {"reasoning_effort": "low"}),
    ]
)
def case(request):
    return request.param


@pytest.fixture
def settings(case) -> Settings:
    return Settings(backend_retries=0, fast_model=case[0])


def test_the_prompt_optimiser_asks_a_reasoning_model_not_to_think(client, ai, case):
    client.post("/api/v1/llm/optimize-prompt", json={"prompt": "a cat", "type": "image"})
    _, expected = case
    inputs = ai.calls[0]["inputs"]
    assert {key: inputs[key] for key in expected} == expected
