"""The plain-text ``chat.completion`` body, built without the models (bench/README.md §4),
is exactly what the ``ChatCompletion`` models dump."""

from __future__ import annotations

from typing import Any

import pytest

from llm_api.schemas.openai import ChatCompletion
from llm_api.services import openai_body
from llm_api.services.generation_items import Completion

USAGES: list[dict[str, Any]] = [
    {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40},
    {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40, "cached_tokens": 16},
    {"prompt_tokens": 5, "completion_tokens": 90, "total_tokens": 95, "reasoning_tokens": 60},
]


def _both(completion: Completion, include_reasoning: bool) -> tuple[dict, dict]:
    reasoning = (completion.reasoning or None) if include_reasoning else None
    fast = openai_body._text_body(completion, "@cf/meta/m", reasoning)
    modelled = openai_body._model_body(completion, "@cf/meta/m", reasoning)
    for body in (fast, modelled):
        assert body.pop("id").startswith("chatcmpl-")
        assert isinstance(body.pop("created"), int)
    return fast, modelled


@pytest.mark.parametrize("usage", USAGES)
@pytest.mark.parametrize("finish_reason", sorted(openai_body.FINISH_REASONS - {"tool_calls"}))
@pytest.mark.parametrize(("text", "reasoning"), [("Bonjour", ""), ("", "hmm"), ("é\n", "x")])
@pytest.mark.parametrize("include_reasoning", [False, True])
def test_text_body_is_what_the_models_dump(
    usage: dict[str, Any], finish_reason: str, text: str, reasoning: str, include_reasoning: bool
) -> None:
    completion = Completion(
        text=text, usage=usage, finish_reason=finish_reason, reasoning=reasoning
    )
    fast, modelled = _both(completion, include_reasoning)
    assert fast == modelled
    assert list(fast) == list(modelled)  # the same key order on the wire
    assert list(fast["choices"][0]["message"]) == list(modelled["choices"][0]["message"])


def test_text_body_is_a_valid_chat_completion() -> None:
    completion = Completion(text="Bonjour", usage=USAGES[1], finish_reason="stop")
    body = openai_body.completion_body(completion, "@cf/meta/m", include_reasoning=True)
    assert ChatCompletion.model_validate(body).choices[0].message.content == "Bonjour"


def test_calls_and_logprobs_still_go_through_the_models() -> None:
    called = Completion(
        text="",
        usage=USAGES[0],
        finish_reason="tool_calls",
        tool_calls=[{"id": "call_1", "name": "f", "arguments": {"a": 1}}],
    )
    body = openai_body.completion_body(called, "@cf/meta/m")
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    scored = Completion(
        text="Hi",
        usage=USAGES[0],
        finish_reason="stop",
        logprobs=[{"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}],
    )
    logprobs = openai_body.completion_body(scored, "@cf/meta/m")["choices"][0]["logprobs"]
    assert logprobs == {"content": scored.logprobs, "refusal": None}
