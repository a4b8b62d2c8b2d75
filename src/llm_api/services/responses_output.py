"""The pieces of a Responses API answer, whole or streamed: the response object's shell (the
echoed request), its output items, usage and status (openai-python ``types/responses``).

Built as plain dicts: the stream writes one per token. ``tests/http/test_responses_api.py``
validates every one against the official SDK's pydantic types.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from llm_api.binding.events import openai_tool_call
from llm_api.binding.protocol import ToolCall, Usage
from llm_api.schemas.responses import ResponseCreateRequest

RESPONSE_PREFIX = "resp_"
Status = Literal["completed", "incomplete"]


def new_response_id() -> str:
    return RESPONSE_PREFIX + uuid.uuid4().hex


def item_id(response_id: str, kind: str, index: int) -> str:
    """An output item's id names its response (``msg_<hex>_<index>``), so an
    ``item_reference`` finds the stored response that holds it without an index."""
    return f"{kind}_{response_id.removeprefix(RESPONSE_PREFIX)}_{index}"


def response_of_item(reference: str) -> str | None:
    """The response id an output item id names, or None for an id not made here."""
    kind, _, rest = reference.partition("_")
    hex_id, _, index = rest.rpartition("_")
    if kind not in ("msg", "fc", "rs") or len(hex_id) != 32 or not index.isdigit():
        return None
    return RESPONSE_PREFIX + hex_id


def shell(
    response_id: str, created_at: int, model: str, body: ResponseCreateRequest
) -> dict[str, Any]:
    """The response object before any output: what ``response.created`` carries, and the
    base of the final object (the request's settings echoed, as OpenAI does)."""
    text: dict[str, Any] = {"format": {"type": "text"}}
    if body.text is not None:
        text = body.text.model_dump(by_alias=True, exclude_none=True)
        text.setdefault("format", {"type": "text"})
    choice = body.tool_choice
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "completed_at": None,
        "model": model,
        "output": [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.instructions,
        "previous_response_id": body.previous_response_id,
        "max_output_tokens": body.max_output_tokens,
        "max_tool_calls": body.max_tool_calls,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "tools": [tool.model_dump(exclude_none=True) for tool in body.tools or []],
        "tool_choice": choice.model_dump()
        if choice is not None and not isinstance(choice, str)
        else choice or "auto",
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "text": text,
        "reasoning": body.reasoning.model_dump(exclude_none=True) if body.reasoning else None,
        "truncation": "disabled",
        "service_tier": "default",
        "store": body.store,
        "background": False,
        "metadata": body.metadata or {},
        "user": body.user,
        "safety_identifier": body.safety_identifier,
        "prompt_cache_key": body.prompt_cache_key,
    }


def status_of(finish_reason: str) -> Status:
    return "incomplete" if finish_reason in ("length", "content_filter") else "completed"


def incomplete_details(finish_reason: str) -> dict[str, str] | None:
    if finish_reason == "length":
        return {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return {"reason": "content_filter"}
    return None


def wire_usage(usage: Usage) -> dict[str, Any]:
    """The engine's usage in Responses' names; a detail not reported is 0 (the SDK types
    require both details)."""
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {
            "cached_tokens": usage.get("cached_tokens", 0),
            "cache_write_tokens": 0,
        },
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": usage.get("reasoning_tokens", 0)},
        "total_tokens": usage["total_tokens"],
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def message_item(item: str, text: str | None, status: str) -> dict[str, Any]:
    """An assistant message; ``text`` None: just opened (no content part yet)."""
    content = [] if text is None else [text_part(text)]
    return {
        "type": "message",
        "id": item,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def reasoning_item(item: str, text: str | None, status: str) -> dict[str, Any]:
    """The model's thinking, as one summary text (``text`` None: just opened)."""
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"type": "reasoning", "id": item, "summary": summary, "status": status}


def call_item(item: str, call: dict[str, Any], arguments: str, status: str) -> dict[str, Any]:
    """A function call; ``call`` in OpenAI's shape (``openai_calls``)."""
    return {
        "type": "function_call",
        "id": item,
        "call_id": call["id"],
        "name": call["function"]["name"],
        "arguments": arguments,
        "status": status,
    }


def openai_calls(calls: list[ToolCall], limit: int | None) -> list[dict[str, Any]]:
    """The engine's calls in OpenAI's shape (arguments as JSON text, an id each), at most
    ``limit`` (``parallel_tool_calls: false`` is 1, ``max_tool_calls`` n)."""
    kept = calls if limit is None else calls[:limit]
    return [
        openai_tool_call(dict(call), default_id=f"call_{uuid.uuid4().hex[:24]}") for call in kept
    ]


def call_limit(body: ResponseCreateRequest) -> int | None:
    limits = [body.max_tool_calls] if body.max_tool_calls else []
    if body.parallel_tool_calls is False:
        limits.append(1)
    return min(limits) if limits else None


def output_items(
    response_id: str, reasoning: str, text: str, calls: list[dict[str, Any]], status: Status
) -> list[dict[str, Any]]:
    """A whole answer's output: its thinking, its message (when it has text, or nothing
    else), its function calls — the order the stream sends them in."""
    items: list[dict[str, Any]] = []
    if reasoning:
        items.append(reasoning_item(item_id(response_id, "rs", len(items)), reasoning, "completed"))
    if text or not calls:
        items.append(message_item(item_id(response_id, "msg", len(items)), text, status))
    for call in calls:
        arguments = call["function"]["arguments"]
        items.append(call_item(item_id(response_id, "fc", len(items)), call, arguments, status))
    return items


def finished(
    response: dict[str, Any], output: list[dict[str, Any]], usage: Usage, finish_reason: str
) -> dict[str, Any]:
    """The shell made final: output, usage, status."""
    status = status_of(finish_reason)
    return {
        **response,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "output": output,
        "usage": wire_usage(usage),
        "incomplete_details": incomplete_details(finish_reason),
    }
