"""Reading SSE bodies in tests."""

from __future__ import annotations

import json
from typing import Any


def sse_data(body: str) -> list[Any]:
    """The JSON payloads of an SSE body, ``"[DONE]"`` kept as the string."""
    assert body.endswith("\n\n"), "an SSE body ends with a blank line"
    events = []
    for frame in body.split("\n\n")[:-1]:
        assert frame.startswith("data: "), frame
        payload = frame.removeprefix("data: ")
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def streamed_tool_calls(events: list[Any]) -> list[dict[str, str]]:
    """The tool calls of a ``chat.completion.chunk`` stream, joined as OpenAI's SDKs join
    them: by ``index``; ``id`` and ``name`` from the first delta, ``arguments`` concatenated."""
    calls: dict[int, dict[str, str]] = {}
    for event in events:
        if event == "[DONE]" or "choices" not in event:
            continue
        for choice in event["choices"]:
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] = call["id"] or delta.get("id") or ""
                function = delta.get("function") or {}
                call["name"] = call["name"] or function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
    return [calls[index] for index in sorted(calls)]
