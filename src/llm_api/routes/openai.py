"""The OpenAI-compatible API (`/v1`): the official SDKs work against it unchanged."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from llm_api.catalog import MODELS, ModelInfo, resolve_model
from llm_api.errors import OPENAI, InvalidRequest
from llm_api.http.dependencies import BackendHeaders, CallerDep, PlatformDep
from llm_api.http.openapi import GENERATION, PROTECTED, error_responses
from llm_api.http.streaming import sse_response
from llm_api.schemas.openai import (
    ChatCompletion,
    ChatCompletionRequest,
    Message,
    ModelList,
    ModelObject,
    tool_choice_dump,
)
from llm_api.services.generation import GenerationRequest, complete, open_stream
from llm_api.services.openai import ChunkEncoder, completion_object

router = APIRouter(
    prefix=OPENAI.prefix, tags=["openai"], responses=error_responses(OPENAI, *PROTECTED)
)

#: A fixed creation time for catalog entries (the Workers AI launch), so listings are stable.
CATALOG_CREATED = 1_695_859_200
DEFAULT_MAX_TOKENS = 1024

STREAM_DOC = {
    200: {
        "description": "A `chat.completion`, or with `stream: true` server-sent "
        "`chat.completion.chunk` events ending with `data: [DONE]`.",
        "content": {"text/event-stream": {}},
    }
}


@router.get("/models")
async def list_models() -> ModelList:
    """The catalog in OpenAI's list shape."""
    return ModelList(data=[_model_object(model) for model in MODELS])


@router.get("/models/{model_id:path}", responses=error_responses(OPENAI, 404))
async def retrieve_model(model_id: str) -> ModelObject:
    """One model, by short or full id."""
    return _model_object(resolve_model(model_id))


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**STREAM_DOC, **error_responses(OPENAI, *GENERATION, 404)},
)
async def chat_completions(
    body: ChatCompletionRequest, platform: PlatformDep, caller: CallerDep, headers: BackendHeaders
) -> Response:
    """Create a chat completion (streamed with `stream: true`)."""
    request = to_generation_request(body)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        encoder = ChunkEncoder(request.model.id, include_usage=include_usage, family=OPENAI)
        items = await open_stream(caller, request)
        return sse_response(items, encoder.encode, encoder.encode_error, headers)
    completion = await complete(caller, request)
    # Already dumped from the ChatCompletion model; returned as is, because FastAPI's
    # response_model pass would add `tool_calls: null` to a message without calls.
    return JSONResponse(completion_object(completion, request.model.id), headers=headers)


def to_generation_request(body: ChatCompletionRequest) -> GenerationRequest:
    """Check what pydantic cannot, and map the OpenAI request onto the binding's inputs."""
    if body.n not in (None, 1):
        raise InvalidRequest("n: only n=1 is supported", param="n")
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest(
            "stream_options: only allowed when stream is true", param="stream_options"
        )
    model = resolve_model(body.model)
    tools = [tool.model_dump(exclude_none=True) for tool in body.tools] if body.tools else None
    choice = tool_choice_dump(body.tool_choice)
    if choice is not None and not tools:
        raise InvalidRequest("tool_choice: only allowed when tools are given", param="tool_choice")
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        if wanted not in {tool["function"]["name"] for tool in tools or []}:
            raise InvalidRequest(
                f"tool_choice: '{wanted}' is not one of the given tools", param="tool_choice"
            )
    if choice == "none":
        tools, choice = None, None  # no tools offered at all: plain text, on every backend
    return GenerationRequest(
        model=model,
        messages=[_binding_message(message) for message in body.messages],
        sampling=_sampling(body, model),
        tools=tools,
        tool_choice=choice,
        response_format=body.response_format.to_binding() if body.response_format else None,
    )


def _sampling(body: ChatCompletionRequest, model: ModelInfo) -> dict[str, Any]:
    max_tokens = body.max_completion_tokens or body.max_tokens
    sampling: dict[str, Any] = {
        "max_tokens": max_tokens or min(DEFAULT_MAX_TOKENS, model.context_window)
    }
    for name in ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"):
        value = getattr(body, name)
        if value is not None:
            sampling[name] = value
    if body.stop:
        sampling["stop"] = [body.stop] if isinstance(body.stop, str) else body.stop
    return sampling


def _binding_message(message: Message) -> dict[str, Any]:
    role = "system" if message.role == "developer" else message.role
    converted: dict[str, Any] = {"role": role, "content": message.text()}
    if message.tool_calls:
        converted["tool_calls"] = [
            {"id": call.id, "name": call.function.name, "arguments": _arguments(call.function)}
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        converted["tool_call_id"] = message.tool_call_id
    if message.name:
        converted["name"] = message.name
    return converted


def _arguments(function: Any) -> dict[str, Any]:
    try:
        arguments = json.loads(function.arguments or "{}")
    except (ValueError, RecursionError):  # nesting past the decoder's stack is a bad request too
        raise InvalidRequest(
            f"messages: the arguments of tool call '{function.name}' are not valid JSON",
            param="messages",
        ) from None
    if not isinstance(arguments, dict):
        raise InvalidRequest(
            "messages: tool call arguments must be a JSON object", param="messages"
        )
    return arguments


def _model_object(model: ModelInfo) -> ModelObject:
    return ModelObject(id=model.id, created=CATALOG_CREATED, owned_by="meta")
