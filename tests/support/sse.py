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
