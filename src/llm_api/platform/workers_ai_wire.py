"""Workers AI's wire shapes, host-neutral: inputs out, results back in the binding's shape.

One upstream, seen two ways: through the Worker's ``env.AI`` binding
(``platform.workers``) and through Cloudflare's REST API (``platform.remote_workers_ai``).
Both send the same inputs and get the same result objects, so both normalise them here.
Pure functions on plain data: no HTTP client, no ``js`` — importable on either host.

``usage`` is passed on as the upstream sent it (absent when it sent none), so that the
generation service can tell "no usage reported" from "zero tokens"; the REST backends
normalise it on top (``normalise_usage``) because OpenAI-shaped servers may send partial
objects.
"""

from __future__ import annotations

import json
from typing import Any

from llm_api.errors import BackendError
from llm_api.platform.base import RunResult

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


def run_result(result: Any, *, service: str = SERVICE) -> RunResult:
    """Workers AI's answer in the binding's shape: text ``response``, dict arguments."""
    if not isinstance(result, dict):
        raise BackendError(f"{service} answered without a result")
    if "choices" in result:  # newer models answer in OpenAI's chat.completion shape
        return completion_result(result, service=service)
    return _binding_result(
        result.get("response"), result.get("usage"), result.get("tool_calls"), result
    )


def completion_result(payload: dict[str, Any], *, service: str = SERVICE) -> RunResult:
    """A ``chat.completion`` in the binding's non-streaming shape."""
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        error = payload.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        raise BackendError(f"{service}: {detail}" if detail else f"{service} answered no choice")
    message = choices[0].get("message") or {}
    return _binding_result(
        message.get("content"), payload.get("usage"), message.get("tool_calls"), choices[0]
    )


def _binding_result(
    response: Any, usage: Any, tool_calls: Any, finish_from: dict[str, Any]
) -> RunResult:
    out: RunResult = {"response": response_text(response)}
    if isinstance(usage, dict):
        out["usage"] = usage
    if tool_calls:
        out["tool_calls"] = [binding_tool_call(call) for call in tool_calls]
    if isinstance(finish_from.get("finish_reason"), str):
        out["finish_reason"] = finish_from["finish_reason"]
    return out


def response_text(response: Any) -> str:
    """The answer as text: JSON mode may answer with the object itself."""
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False)


def binding_tool_call(call: Any) -> dict[str, Any]:
    """``{"name", "arguments": dict}`` from a binding or an OpenAI-shaped tool call."""
    if not isinstance(call, dict):
        raise BackendError("the upstream sent a tool call that is not an object")
    function = _function(call)
    return {
        "name": str(function.get("name") or ""),
        "arguments": parse_arguments(function.get("arguments")),
    }


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict; text that is not a JSON object is kept as ``_raw``.

    The same rule as ``streaming.parse_binding_event``: the backend reports what the
    model said, and the generation service decides whether that is acceptable.
    """
    if isinstance(arguments, dict):
        return arguments
    if arguments is None:
        return {}
    if not isinstance(arguments, str):
        return {"_raw": json.dumps(arguments)}
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def normalise_usage(raw: Any) -> dict[str, int]:
    """OpenAI's usage trio, all ints, whatever part of it the upstream sent."""
    raw = raw if isinstance(raw, dict) else {}
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    total = int(raw.get("total_tokens") or prompt + completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _function(call: dict[str, Any]) -> dict[str, Any]:
    """The part that names the function: OpenAI nests it under ``function``, Workers AI not."""
    return call["function"] if isinstance(call.get("function"), dict) else call
