"""Workers AI's inputs, host-neutral: what the Worker's ``env.AI`` binding
(``platform.workers``) and Cloudflare's REST API (``platform.remote.workers_ai``) send.

The generation service hands every backend the same inputs (the binding's legacy names:
``max_tokens``, tools as ``{type, function}``, ``response_format`` with the bare schema,
``reasoning_effort``/``chat_template_kwargs`` for reasoning models). Here they become what
the model's catalog ``io_shape`` takes (``catalog.io_shape_of``, never a guess from an answer):

* ``legacy`` (llama-*, mistral-small, qwen3 [M]): as given, ``tool_choice`` emulated, no
  reasoning fields (their schemas have none, facts-14 §2);
* ``chat_completions`` (glm-4.7-flash, gemma-4, kimi-k2.6, gpt-oss via ``messages``
  [RN 2026-02-17]): OpenAI Chat Completions per [AI-TY] ``ChatCompletionsCommonOptions``.

The Responses shape (``input``) is never sent: gpt-oss takes ``messages`` as Chat Completions
[RN 2026-02-17], and Responses cannot stream [PR32116]; its answers are still read
(``events.run_result``) should an upstream give one.

JSON mode cannot stream on Workers AI ([JM]: "JSON Mode currently doesn't support
streaming"): a streamed JSON-mode request is sent whole; the generation service replays the
answer as a stream. Answers are read by ``binding.events``, as every backend's are.
Pure functions on plain data: no HTTP client, no ``js`` — importable on either host.
"""

from __future__ import annotations

import json
from typing import Any

from llm_api.catalog import IoShape, JsonParam, io_shape_of, json_param_of

SERVICE = "Workers AI"

#: what the generation service may pass that only reasoning models in the Chat Completions
#: shape take ([M-glm]; workers-ai-provider 3.1.12 puts them in the inputs)
REASONING_FIELDS = ("reasoning_effort", "chat_template_kwargs")
#: legacy-only sampling inputs, absent from the Chat Completions schema [AI-TY]
LEGACY_ONLY = ("top_k", "repetition_penalty", "raw", "lora")
#: ``json_schema.name`` is required in the Chat Completions ``response_format`` [AI-TY]
SCHEMA_NAME = "response"


def model_inputs(model: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as the catalog says ``model`` takes them (what both hosts send)."""
    return workers_ai_inputs(inputs, io_shape_of(model), json_param=json_param_of(model))


def workers_ai_inputs(
    inputs: dict[str, Any], shape: IoShape = "legacy", *, json_param: JsonParam = "response_format"
) -> dict[str, Any]:
    """The inputs as a model of ``shape`` takes them; ``None`` values left out."""
    body = {key: value for key, value in inputs.items() if value is not None}
    if body.get("response_format") and body.get("stream"):
        del body["stream"]  # [JM]: run whole; the answer is replayed as a stream
    if shape == "chat_completions":
        return _chat_completions(body)
    for key in REASONING_FIELDS:
        body.pop(key, None)
    if json_param == "guided_json" and body.get("response_format"):
        # mistral-small-3.1 takes the schema itself as ``guided_json`` (its docs JSON, per
        # shared/notes/workers-ai-2026.md; not re-read in facts-14)
        spec = body.pop("response_format")
        schema = spec.get("json_schema") if isinstance(spec, dict) else None
        body["guided_json"] = schema if isinstance(schema, dict) else {"type": "object"}
    choice = body.pop("tool_choice", None)
    if choice == "none":
        body.pop("tools", None)
    elif isinstance(choice, dict) and body.get("tools"):
        wanted = (choice.get("function") or {}).get("name")
        body["tools"] = [tool for tool in body["tools"] if function_of(tool).get("name") == wanted]
    return body


def _chat_completions(body: dict[str, Any]) -> dict[str, Any]:
    """Legacy-named inputs → Chat Completions: ``max_completion_tokens`` (``max_tokens`` is
    "Deprecated in favor of max_completion_tokens" [M-glm]), ``messages`` (a ``prompt`` would
    get gpt-oss's legacy answer [RN 2026-02-17]), OpenAI tools and tool calls (arguments as
    JSON text), ``tool_choice`` as given (the shape has it), usage asked for when streaming."""
    for key in LEGACY_ONLY:
        body.pop(key, None)
    if "max_tokens" in body:
        body["max_completion_tokens"] = body.pop("max_tokens")
    if "prompt" in body:
        body["messages"] = [{"role": "user", "content": body.pop("prompt")}]
    if "messages" in body:
        body["messages"] = [_chat_message(message) for message in body["messages"]]
    if body.get("tools"):
        body["tools"] = [_chat_tool(tool) for tool in body["tools"]]
    else:
        body.pop("tool_choice", None)
    if body.get("response_format"):
        body["response_format"] = _chat_response_format(body["response_format"])
    if body.get("stream"):
        body["stream_options"] = {"include_usage": True}
    return body


def _chat_message(message: Any) -> Any:
    if not isinstance(message, dict) or not message.get("tool_calls"):
        return message
    calls = [
        {
            "id": call.get("id") or f"call_{index}",
            "type": "function",
            "function": {
                "name": function_of(call).get("name"),
                "arguments": _arguments_text(function_of(call).get("arguments")),
            },
        }
        for index, call in enumerate(message["tool_calls"])
        if isinstance(call, dict)
    ]
    # [RN 2026-02-17]: an assistant turn with tool calls may have content null
    return {**message, "content": message.get("content") or None, "tool_calls": calls}


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def _chat_tool(tool: Any) -> Any:
    if not isinstance(tool, dict):
        return tool
    return {"type": "function", "function": function_of(tool)}


def _chat_response_format(response_format: Any) -> Any:
    """``{"type": "json_schema", "json_schema": <schema>}`` (the binding's legacy form) →
    ``{"type": "json_schema", "json_schema": {"name", "schema"}}`` [AI-TY]."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return response_format
    spec = response_format.get("json_schema")
    if isinstance(spec, dict) and isinstance(spec.get("schema"), dict) and "name" in spec:
        return response_format  # already in OpenAI's form
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": spec}}


def function_of(call: dict[str, Any]) -> dict[str, Any]:
    """The part that names the function: OpenAI nests it under ``function``, Workers AI not."""
    return call["function"] if isinstance(call.get("function"), dict) else call
