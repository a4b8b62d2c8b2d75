"""Workers AI's wire shapes, host-neutral: inputs out, results back in the binding's shape.

One upstream, seen two ways: through the Worker's ``env.AI`` binding
(``platform.workers``) and through Cloudflare's REST API (``platform.remote_workers_ai``).
Both send the same inputs and get the same result objects, so both normalise them here.
Pure functions on plain data: no HTTP client, no ``js`` — importable on either host.

Every function here is total: whatever JSON value the upstream sent, it returns the
binding's shape or raises ``BackendError`` (a 502: the upstream's fault, not ours).

``usage`` keeps only the counts that are plausible (``normalise_usage``) and is absent
when none is, so that the generation service can tell "no usage reported" from "zero
tokens" and estimate what is missing.
"""

from __future__ import annotations

import json
from typing import Any

from llm_api.binding.protocol import RunResult
from llm_api.errors import BackendError

SERVICE = "Workers AI"


def workers_ai_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as Workers AI takes them: ``None`` values left out, ``tool_choice`` applied.

    Workers AI has no ``tool_choice``: ``"none"`` is honoured by sending no tools and a
    named function by sending only that tool; ``"auto"``/``"required"`` send all tools
    (the model may still answer in text — the service checks ``required``).
    """
    body = {key: value for key, value in inputs.items() if value is not None}
    choice = body.pop("tool_choice", None)
    if choice == "none":
        body.pop("tools", None)
    elif isinstance(choice, dict) and body.get("tools"):
        wanted = (choice.get("function") or {}).get("name")
        body["tools"] = [tool for tool in body["tools"] if _function(tool).get("name") == wanted]
    return body


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
    function = _function(call)
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


def _function(call: dict[str, Any]) -> dict[str, Any]:
    """The part that names the function: OpenAI nests it under ``function``, Workers AI not."""
    return call["function"] if isinstance(call.get("function"), dict) else call
