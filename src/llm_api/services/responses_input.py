"""A Responses request's ``input`` as conversation items, and a conversation as the
binding's chat messages.

A conversation item is what a stored response keeps (``services.responses``): a message
(role and text), a ``function_call`` (arguments as JSON text) or a ``function_call_output``.
Thinking is not kept: chat models take no past reasoning.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from llm_api.errors import InvalidRequest, NotFound
from llm_api.schemas.responses import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputItem,
    ItemReference,
    MessageItem,
)

Item = dict[str, Any]
#: an output item of one of the caller's stored responses, by its id (None: not found)
Lookup = Callable[[str], Awaitable[Item | None]]


async def conversation_items(raw: str | list[InputItem] | None, lookup: Lookup) -> list[Item]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    items: list[Item] = []
    for index, item in enumerate(raw):
        if isinstance(item, MessageItem):
            items.append({"type": "message", "role": item.role, "content": item.text()})
        elif isinstance(item, FunctionCallItem):
            _check_arguments(item.arguments, f"input[{index}].arguments")
            items.append(
                {
                    "type": "function_call",
                    "call_id": item.call_id,
                    "name": item.name,
                    "arguments": item.arguments,
                }
            )
        elif isinstance(item, FunctionCallOutputItem):
            items.append(
                {"type": "function_call_output", "call_id": item.call_id, "output": item.text()}
            )
        elif isinstance(item, ItemReference):
            found = await lookup(item.id)
            if found is None:
                raise NotFound(
                    f"input[{index}]: no stored item with id '{item.id}'",
                    param=f"input[{index}].id",
                )
            items += output_conversation([found])
        # a reasoning item: accepted, and left out
    return items


def output_conversation(output: list[Item]) -> list[Item]:
    """A response's output items as conversation items (its thinking left out)."""
    items: list[Item] = []
    for item in output:
        if item.get("type") == "message":
            text = "".join(part.get("text", "") for part in item.get("content", []))
            items.append({"type": "message", "role": "assistant", "content": text})
        elif item.get("type") == "function_call":
            items.append(
                {
                    "type": "function_call",
                    "call_id": item["call_id"],
                    "name": item["name"],
                    "arguments": item["arguments"],
                }
            )
    return items


def _check_arguments(arguments: str, param: str) -> None:
    try:
        parsed = json.loads(arguments or "{}")
    except (ValueError, RecursionError):
        raise InvalidRequest(f"{param}: not valid JSON", param=param) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"{param}: must be a JSON object", param=param)


def _arguments(arguments: str) -> dict[str, Any]:
    """A kept call's arguments as an object. A call the model itself cut off (its own
    output, stored) may not parse: the model is shown no arguments rather than a 400."""
    try:
        parsed = json.loads(arguments or "{}")
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def binding_messages(instructions: str | None, conversation: list[Item]) -> list[dict[str, Any]]:
    """The binding's chat messages: ``instructions`` as the system message, then the
    conversation; a function call joins the assistant turn it follows (one message with
    text and ``tool_calls``), and its output names the function, as Chat Completions' do."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    names: dict[str, str] = {}
    for item in conversation:
        kind = item["type"]
        if kind == "message":
            role = "system" if item["role"] == "developer" else item["role"]
            messages.append({"role": role, "content": item["content"]})
        elif kind == "function_call":
            names[item["call_id"]] = item["name"]
            call = {
                "id": item["call_id"],
                "name": item["name"],
                "arguments": _arguments(item["arguments"]),
            }
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        else:
            message = {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            if item["call_id"] in names:
                message["name"] = names[item["call_id"]]
            messages.append(message)
    return messages
