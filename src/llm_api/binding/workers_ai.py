"""Workers AI's inputs, host-neutral: what the Worker's ``env.AI`` binding
(``platform.workers``) and Cloudflare's REST API (``platform.remote.workers_ai``) send.

Their answers are read by ``binding.events`` (``run_result``), as every backend's are.
Pure functions on plain data: no HTTP client, no ``js`` — importable on either host.
"""

from __future__ import annotations

from typing import Any

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
        body["tools"] = [tool for tool in body["tools"] if function_of(tool).get("name") == wanted]
    return body


def function_of(call: dict[str, Any]) -> dict[str, Any]:
    """The part that names the function: OpenAI nests it under ``function``, Workers AI not."""
    return call["function"] if isinstance(call.get("function"), dict) else call
