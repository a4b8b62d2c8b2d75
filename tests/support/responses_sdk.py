"""Checking Responses API answers against the official SDK's own pydantic types
(openai-python ``types/responses``): validated, never ``construct``-ed."""

from __future__ import annotations

import json
from typing import Any, get_args

from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel

#: each stream event class of the SDK, by its ``type``
EVENT_CLASSES: dict[str, type[BaseModel]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def sdk_response(body: dict[str, Any]) -> Response:
    """``body`` as the SDK's ``Response``; raises if any field breaks its type."""
    return Response.model_validate(body)


def sdk_events(text: str) -> list[dict[str, Any]]:
    """The events of a Responses stream, each checked: framed as ``event: <type>`` then
    ``data: {...}``, valid as the SDK's class for its type, numbered 0, 1, 2, ..."""
    assert text.endswith("\n\n"), "an SSE body ends with a blank line"
    events = []
    for frame in text.split("\n\n")[:-1]:
        name_line, data_line = frame.split("\n")
        name = name_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name, frame
        EVENT_CLASSES[name].model_validate(data)
        if "response" in data:
            sdk_response(data["response"])
        events.append(data)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return events
