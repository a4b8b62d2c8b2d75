"""The native API: ``/api/llm`` as the seed "LLM Text Generation API" documents it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from llm_api.catalog import MODELS, resolve_model
from llm_api.errors import NATIVE, ApiError
from llm_api.http.dependencies import BackendHeaders, CallerDep, PlatformDep
from llm_api.http.openapi import GENERATION, PROTECTED, error_responses
from llm_api.http.streaming import sse_response
from llm_api.schemas.native import (
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    GenerateResponse,
    ModelCard,
    ModelsResponse,
    ToolCallOut,
    Usage,
)
from llm_api.services.generation import (
    Caller,
    GenerationRequest,
    StreamItem,
    TextDelta,
    complete,
    open_stream,
)
from llm_api.sse import encode_data, encode_response, error_frame

router = APIRouter(
    prefix=NATIVE.prefix, tags=["native"], responses=error_responses(NATIVE, *PROTECTED)
)

STREAM_DOC = {
    200: {
        "description": "JSON, or with `stream: true` server-sent events: "
        '`data: {"response": "<delta>"}` per token, a final event with `usage` '
        "(and `tool_calls`), then `data: [DONE]`.",
        "content": {"text/event-stream": {}},
    }
}
GENERATION_DOC = {**STREAM_DOC, **error_responses(NATIVE, *GENERATION)}


@router.get("/models")
async def list_models() -> ModelsResponse:
    """The catalog: context windows, tool support and prices per million tokens."""
    return ModelsResponse(
        models=[
            ModelCard(
                id=model.id,
                name=model.name,
                contextWindow=model.context_window,
                supportsTools=model.supports_tools,
                costPerMInput=model.cost_per_m_input,
                costPerMOutput=model.cost_per_m_output,
            )
            for model in MODELS
        ]
    )


@router.post("/generate", responses=GENERATION_DOC)
async def generate(
    body: GenerateRequest, platform: PlatformDep, caller: CallerDep, headers: BackendHeaders
) -> GenerateResponse:
    """Generate text from a prompt."""
    request = GenerationRequest(
        model=resolve_model(body.model or platform.settings.default_model),
        prompt=body.prompt,
        sampling=body.sampling(),
    )
    if body.stream:
        return await _stream(caller, request, headers)  # type: ignore[return-value]
    result = await complete(caller, request)
    return GenerateResponse(text=result.text, model=request.model.id, usage=Usage(**result.usage))


@router.post("/chat/completions", responses=GENERATION_DOC, response_model_exclude_none=True)
async def chat_completions(
    body: ChatRequest, platform: PlatformDep, caller: CallerDep, headers: BackendHeaders
) -> ChatResponse:
    """Chat with conversation history, JSON mode and function calling."""
    request = GenerationRequest(
        model=resolve_model(body.model or platform.settings.default_model),
        messages=[message.to_binding() for message in body.messages],
        sampling=body.sampling(),
        tools=[tool.model_dump(exclude_none=True) for tool in body.tools] if body.tools else None,
        tool_choice=_tool_choice(body),
        response_format=body.response_format.to_binding() if body.response_format else None,
    )
    if body.stream:
        return await _stream(caller, request, headers)  # type: ignore[return-value]
    result = await complete(caller, request)
    return ChatResponse(
        text=result.text,
        model=request.model.id,
        usage=Usage(**result.usage),
        tool_calls=[ToolCallOut(**call) for call in result.tool_calls] or None,
    )


def _tool_choice(body: ChatRequest) -> object:
    choice = body.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    return choice.model_dump()


async def _stream(caller: Caller, request: GenerationRequest, headers: dict[str, str]) -> Response:
    items = await open_stream(caller, request)
    return sse_response(items, _encode_item, _encode_error, headers)


def _encode_item(item: StreamItem) -> bytes:
    if isinstance(item, TextDelta):
        return encode_response(item.text)
    final: dict[str, object] = {"response": "", "usage": item.usage}
    if item.tool_calls:
        final["tool_calls"] = item.tool_calls
    return encode_data(final)


def _encode_error(error: ApiError) -> bytes:
    return error_frame(NATIVE, error)
