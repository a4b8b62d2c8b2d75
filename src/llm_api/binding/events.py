"""What a backend's result or stream event says, whatever JSON the upstream put in it.

Workers AI answers ``{"response": ...}`` (results and frames alike); some newer models
(and the OpenAI backend's upstreams) answer ``chat.completion`` objects and
``chat.completion.chunk`` frames instead. Results end up in the binding's shape
(``run_result``), events as one ``StreamEvent`` (``parse_binding_event``).

Every reader here is total: whatever JSON value the upstream sent, it returns the
binding's shape or raises ``BackendError`` (a 502: the upstream's fault, not ours); an
event of the wrong shape becomes an event whose ``error`` says so (the stream then ends
with a 502 or an in-band error frame), never an exception from deep inside a handler.

``usage`` keeps only the counts that are plausible (``normalise_usage``) and is absent
when none is, so that the generation service can tell "no usage reported" from "zero
tokens" and estimate what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from llm_api.binding.protocol import RunResult
from llm_api.binding.workers_ai import SERVICE, function_of
from llm_api.errors import BackendError

DONE = "[DONE]"


#: A token count above this, for one request, is not a count: no model's context comes
#: near it, and trusting it would bill (or overflow) whatever the upstream chose.
MAX_USAGE_TOKENS = 10_000_000
_COUNTED = ("prompt_tokens", "completion_tokens")


def run_result(result: Any, *, service: str = SERVICE) -> RunResult:
    """Workers AI's answer in the binding's shape: text ``response``, dict arguments."""
    if not isinstance(result, dict):
        raise BackendError(f"{service} answered without a result")
    if "choices" in result:  # newer models answer in OpenAI's chat.completion shape
        return completion_result(result, service=service)
    if "response" not in result and "tool_calls" not in result:
        raise BackendError(f"{service} answered without a response")
    return _binding_result(
        result.get("response"), result.get("usage"), result.get("tool_calls"), result, service
    )


def completion_result(payload: dict[str, Any], *, service: str = SERVICE) -> RunResult:
    """A ``chat.completion`` in the binding's non-streaming shape."""
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        error = payload.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        if detail and isinstance(detail, str):
            raise BackendError(f"{service}: {detail[:500]}")
        raise BackendError(f"{service} answered no choice")
    message = choices[0].get("message")
    if message is None:
        message = {}
    if not isinstance(message, dict):
        raise BackendError(f"{service} answered a choice whose message is not an object")
    return _binding_result(
        message.get("content"), payload.get("usage"), message.get("tool_calls"), choices[0], service
    )


def _binding_result(
    response: Any, usage: Any, tool_calls: Any, finish_from: dict[str, Any], service: str
) -> RunResult:
    out: RunResult = {"response": response_text(response)}
    counts = normalise_usage(usage)
    if counts is not None:
        out["usage"] = counts
    calls = tool_call_list(tool_calls, service)
    if calls:
        out["tool_calls"] = [binding_tool_call(call) for call in calls]
    if isinstance(finish_from.get("finish_reason"), str):
        out["finish_reason"] = finish_from["finish_reason"]
    return out


def tool_call_list(tool_calls: Any, service: str = SERVICE) -> list[Any]:
    """``tool_calls`` as the list it must be (absent: none)."""
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise BackendError(f"{service} sent tool_calls that are not a list")
    return tool_calls


def response_text(response: Any) -> str:
    """The answer as text: JSON mode may answer with the object itself."""
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return dumps(response)


def dumps(value: Any) -> str:
    """A JSON value back as text; what cannot be is the upstream's fault."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested beyond reason
        raise BackendError("the upstream sent a value that is not JSON") from None


def loads(text: str) -> Any:
    """``json.loads``, with too deep a nesting reported as the ``ValueError`` it is."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def binding_tool_call(call: Any) -> dict[str, Any]:
    """``{"name", "arguments": dict}`` from a binding or an OpenAI-shaped tool call."""
    if not isinstance(call, dict):
        raise BackendError("the upstream sent a tool call that is not an object")
    function = function_of(call)
    name = function.get("name")
    if name is not None and not isinstance(name, str):
        raise BackendError("the upstream sent a tool call whose name is not a string")
    return {"name": name or "", "arguments": parse_arguments(function.get("arguments"))}


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict; text that is not a JSON object is kept as ``_raw``.

    The same rule as ``stream_events.parse_binding_event``: the backend reports what the
    model said, and the generation service decides whether that is acceptable.
    """
    if isinstance(arguments, dict):
        return arguments
    if arguments is None:
        return {}
    if not isinstance(arguments, str):
        return {"_raw": dumps(arguments)}
    if not arguments.strip():
        return {}
    try:
        parsed = loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def token_count(value: Any) -> int | None:
    """A reported token count if it is one: a whole number in ``0..MAX_USAGE_TOKENS``."""
    if isinstance(value, bool):  # JSON true is not 1 token
        return None
    if isinstance(value, float) and value.is_integer():  # 12.0 (inf and nan are not)
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_USAGE_TOKENS:
        return value
    return None


def normalise_usage(raw: Any) -> dict[str, int] | None:
    """The plausible part of the upstream's usage: ``prompt_tokens`` and
    ``completion_tokens`` where each is a count, ``total_tokens`` (their sum) when both
    are; ``None`` when nothing is usable. Negative, huge, fractional, non-numeric or
    infinite values are dropped, never trusted."""
    if not isinstance(raw, dict):
        return None
    counts: dict[str, int] = {}
    for name in _COUNTED:
        count = token_count(raw.get(name))
        if count is not None:
            counts[name] = count
    if not counts:
        return None
    if len(counts) == len(_COUNTED):
        counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
    return counts


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
