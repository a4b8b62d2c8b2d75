"""What one event of a binding stream says, whatever JSON the upstream put in it.

Workers AI sends ``{"response": "..."}`` frames; some newer models (and the OpenAI
backend's upstreams) send ``chat.completion.chunk`` frames instead. Both end up as one
``StreamEvent``. Interpretation is total: an event of the wrong shape becomes an event
whose ``error`` says so (the stream then ends with a 502 or an in-band error frame),
never an exception from deep inside a handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm_api.binding.workers_ai import (
    binding_tool_call,
    dumps,
    loads,
    normalise_usage,
    response_text,
    tool_call_list,
)
from llm_api.errors import BackendError

DONE = "[DONE]"


@dataclass(slots=True)
class StreamEvent:
    """One upstream event in the binding protocol, normalised.

    ``tool_calls`` holds whole calls (``{"name", "arguments": dict}``) or OpenAI's
    fragments (``{"index": int, "id", "name", "arguments_fragment": str}``).
    """

    text: str = ""
    usage: dict[str, int] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None


def parse_binding_event(data: str) -> StreamEvent | None:
    """Interpret one ``data`` payload of a binding stream; ``None`` for ``[DONE]``."""
    if data.strip() == DONE:
        return None
    try:
        payload = loads(data)
    except ValueError:
        return StreamEvent(error=f"the backend sent a malformed stream event: {data[:200]!r}")
    if not isinstance(payload, dict):
        return StreamEvent(error="the backend sent a stream event that is not a JSON object")
    try:
        if "choices" in payload:
            return _from_openai_chunk(payload)
        return _from_binding_event(payload)
    except BackendError as exc:
        return StreamEvent(error=exc.message)


def _from_binding_event(payload: dict[str, Any]) -> StreamEvent:
    event = StreamEvent(usage=normalise_usage(payload.get("usage")))
    if payload.get("error"):
        event.error = _error_text(payload["error"])
    event.text = response_text(payload.get("response"))
    event.tool_calls = [
        binding_tool_call(call) for call in tool_call_list(payload.get("tool_calls"), "the backend")
    ]
    finish = payload.get("finish_reason")
    event.finish_reason = finish if isinstance(finish, str) else None
    return event


def _from_openai_chunk(payload: dict[str, Any]) -> StreamEvent:
    event = StreamEvent(usage=normalise_usage(payload.get("usage")))
    if payload.get("error"):
        event.error = _error_text(payload["error"])
    text: list[str] = []
    for choice in _list(payload.get("choices"), "choices"):
        if not isinstance(choice, dict):
            raise _malformed("a choice that is not an object")
        delta = _object(choice.get("delta"), "a delta")
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            raise _malformed("delta content that is not a string")
        text.append(content or "")
        for call in tool_call_list(delta.get("tool_calls"), "the backend"):
            event.tool_calls.append(_fragment(call))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            event.finish_reason = choice["finish_reason"]
    event.text = "".join(text)
    return event


def _fragment(call: Any) -> dict[str, Any]:
    """One tool-call fragment of a ``chat.completion.chunk``, its types checked."""
    if not isinstance(call, dict):
        raise _malformed("a tool call that is not an object")
    function = _object(call.get("function"), "a tool call function")
    index = call.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _malformed("a tool call index that is not a count")
    call_id, name = call.get("id"), function.get("name")
    if not isinstance(call_id, str | None) or not isinstance(name, str | None):
        raise _malformed("a tool call id or name that is not a string")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        arguments = dumps(arguments)  # some servers send the object itself
    return {"index": index, "id": call_id, "name": name, "arguments_fragment": arguments or ""}


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    if isinstance(message, str) and message.strip():
        return message[:500]
    return "the backend reported an error in its stream"


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(f"{what} that are not a list")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(f"{what} that is not an object")
    return value


def _malformed(what: str) -> BackendError:
    return BackendError(f"the backend sent a stream event with {what}")
