"""The OpenAI Responses shape (gpt-oss's ``input`` branch [M-oss120][CL-OSS]) read as the
``chat.completion`` it amounts to, so that ``events.run_result`` has one reader for both.

[AI-TY] ``ResponsesOutput``: ``output[]`` holds ``message`` items (``output_text`` parts:
the answer), ``reasoning`` items (``reasoning_text`` parts: the thinking) and
``function_call`` items (``call_id``, ``name``, ``arguments`` as JSON text); usage counts
``input_tokens``/``output_tokens``. We never send ``input`` (``binding.workers_ai``), but an
upstream that answers this way is still read.
"""

from __future__ import annotations

from typing import Any

from llm_api.errors import BackendError


def as_chat_completion(payload: dict[str, Any], service: str) -> dict[str, Any]:
    items = payload.get("output")
    if not isinstance(items, list):
        raise BackendError(f"{service} sent output items that are not a list")
    text: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise BackendError(f"{service} sent an output item that is not an object")
        kind = item.get("type")
        if kind == "function_call":
            function = {key: item.get(key) for key in ("name", "arguments")}
            calls.append({"id": item.get("call_id"), "function": function})
        parts = item.get("content")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                continue
            if kind == "message" and part.get("type") == "output_text":
                text.append(part["text"])
            elif kind == "reasoning":
                thinking.append(part["text"])
    message: dict[str, Any] = {"content": "".join(text), "reasoning_content": "".join(thinking)}
    if calls:
        message["tool_calls"] = calls
    choice: dict[str, Any] = {"message": message}
    if payload.get("status") == "incomplete":  # stopped by max_output_tokens
        choice["finish_reason"] = "length"
    completion: dict[str, Any] = {"choices": [choice]}
    raw = payload.get("usage")
    if isinstance(raw, dict):
        completion["usage"] = {
            "prompt_tokens": raw.get("input_tokens"),
            "completion_tokens": raw.get("output_tokens"),
        }
    return completion
