"""A whole answer as a ``chat.completion`` body (``services.openai`` re-exports these).

A plain text answer (no tool calls, no log-probabilities: nearly every answer) is built
as the dict that ``ChatCompletion.model_dump`` gives, directly: building and dumping
the models costs ~0.2 ms of CPU per request under Pyodide (bench/README.md §4), for
values the engine has already checked. The other answers still go through the models
(tests/unit/services/test_openai_body.py checks that both agree).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from llm_api.binding.events import openai_tool_call
from llm_api.binding.protocol import Usage
from llm_api.schemas.openai import (
    ChatCompletion,
    Choice,
    ChoiceLogprobs,
    CompletionUsage,
    ResponseMessage,
)
from llm_api.services.generation_items import Completion

#: the finish reasons ``ChatCompletion`` allows (the engine gives no other)
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Binding tool calls (arguments as objects) → OpenAI's (arguments as JSON strings)."""
    return [openai_tool_call(call, default_id=f"call_{uuid.uuid4().hex[:24]}") for call in calls]


def completion_body(
    completion: Completion, model: str, *, include_reasoning: bool = False
) -> dict[str, Any]:
    """A whole answer as its ``ChatCompletion`` model dumps it; the message's
    ``tool_calls`` appears only when there are calls (then ``content`` may be null), its
    ``reasoning_content`` only with ``include_reasoning`` and thinking to show, and the
    usage details only where reported."""
    reasoning = (completion.reasoning or None) if include_reasoning else None
    if (
        not completion.tool_calls
        and completion.logprobs is None
        and completion.finish_reason in FINISH_REASONS
        and isinstance(completion.text, str)
    ):
        return _text_body(completion, model, reasoning)
    return _model_body(completion, model, reasoning)


def _text_body(completion: Completion, model: str, reasoning: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    message["refusal"] = None
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": completion.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": wire_usage(completion.usage),
        "system_fingerprint": None,
        "service_tier": "default",
    }


def _model_body(completion: Completion, model: str, reasoning: str | None) -> dict[str, Any]:
    calls = openai_tool_calls(completion.tool_calls) if completion.tool_calls else None
    content = (completion.text or None) if calls else completion.text
    message = ResponseMessage(content=content, reasoning_content=reasoning, tool_calls=calls)
    usage = wire_usage(completion.usage)
    scored = completion.logprobs
    logprobs = (
        None if scored is None or calls else ChoiceLogprobs.model_validate({"content": scored})
    )
    choice = Choice(
        index=0, message=message, finish_reason=completion.finish_reason, logprobs=logprobs
    )
    body = ChatCompletion(
        id=new_completion_id(),
        created=int(time.time()),
        model=model,
        choices=[choice],
        usage=CompletionUsage.model_validate(usage),
    )
    absent_fields = {"tool_calls"} if calls is None else set()
    if reasoning is None:
        absent_fields.add("reasoning_content")
    dumped = body.model_dump(exclude={"choices": {0: {"message": absent_fields}}})
    dumped["usage"] = usage
    return dumped


def wire_usage(usage: Usage) -> dict[str, Any]:
    """The engine's usage in OpenAI's form: the trio, and each reported detail nested."""
    wire: dict[str, Any] = {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
    }
    if "cached_tokens" in usage:
        wire["prompt_tokens_details"] = {"cached_tokens": usage["cached_tokens"]}
    if "reasoning_tokens" in usage:
        wire["completion_tokens_details"] = {"reasoning_tokens": usage["reasoning_tokens"]}
    return wire
