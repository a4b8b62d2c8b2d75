"""The native family (`/api/llm`): its requests as a ``GenerationRequest``, and the
engine's results as its answers or its event stream (``{"response": <delta>}`` frames)."""

from __future__ import annotations

from typing import Any

from llm_api.binding.protocol import ToolCall
from llm_api.catalog import Catalog, ModelInfo
from llm_api.errors import NATIVE, ApiError
from llm_api.schemas.native import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    GenerateResponse,
    ModelCard,
    ModelsResponse,
    SamplingParams,
    ToolCallOut,
    Usage,
)
from llm_api.services.generation import (
    Caller,
    GenerationRequest,
    StreamEnd,
    StreamItem,
    TextDelta,
    complete,
    open_stream,
    response_format_inputs,
)
from llm_api.settings import Settings
from llm_api.sse import Frames, encode_data, encode_response, error_frame, frames

#: the usage counts the native family reports (its seed's)
NATIVE_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens")
#: the request fields that are Workers AI input fields of the same name
SAMPLING_FIELDS = {
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "seed",
}


def model_list(catalog: Catalog) -> ModelsResponse:
    """The host's catalog: the seed's six first (with the seed's fields), then today's models
    and those only the account's live list names."""
    return ModelsResponse(models=[model_card(model) for model in catalog.models()])


def model_card(model: ModelInfo) -> ModelCard:
    card = ModelCard(
        id=model.id,
        name=model.name,
        contextWindow=model.context_window,
        supportsTools=model.supports_tools,
        costPerMInput=model.cost_per_m_input,
        costPerMOutput=model.cost_per_m_output,
    )
    if model.deprecated:
        card.deprecated = True
        card.retiredOn = model.retired_on.isoformat() if model.retired_on else None
        card.replacement = model.replacement
    if model.planned_deprecation is not None:
        card.plannedDeprecation = model.planned_deprecation.isoformat()
    return card


async def generate(
    caller: Caller, settings: Settings, body: GenerateRequest
) -> GenerateResponse | Frames:
    request = GenerationRequest(
        model=caller.catalog.resolve(body.model or settings.default_model),
        prompt=body.prompt,
        sampling=sampling(body),
    )
    if body.stream:
        return await _stream(caller, request)
    result = await complete(caller, request)
    return GenerateResponse(
        text=result.text,
        model=request.model.id,
        usage=_usage(result.usage),
        finish_reason=result.finish_reason,
    )


async def chat(caller: Caller, settings: Settings, body: ChatRequest) -> ChatResponse | Frames:
    request = chat_request(body, settings, caller.catalog)
    if body.stream:
        return await _stream(caller, request)
    result = await complete(caller, request)
    return ChatResponse(
        text=result.text,
        model=request.model.id,
        usage=_usage(result.usage),
        finish_reason=result.finish_reason,
        tool_calls=_calls(result.tool_calls) or None,
    )


def chat_request(body: ChatRequest, settings: Settings, catalog: Catalog) -> GenerationRequest:
    choice = body.tool_choice
    return GenerationRequest(
        model=catalog.resolve(body.model or settings.default_model),
        messages=[binding_message(message) for message in body.messages],
        sampling=sampling(body),
        tools=[tool.model_dump(exclude_none=True) for tool in body.tools] if body.tools else None,
        tool_choice=choice if choice is None or isinstance(choice, str) else choice.model_dump(),
        response_format=response_format_inputs(body.response_format),
    )


def sampling(body: SamplingParams) -> dict[str, Any]:
    """The Workers AI input fields for the request's generation settings."""
    return body.model_dump(include=SAMPLING_FIELDS, exclude_none=True)


def binding_message(message: ChatMessage) -> dict[str, Any]:
    converted: dict[str, Any] = {"role": message.role, "content": message.content or ""}
    if message.name:
        converted["name"] = message.name
    if message.tool_call_id:
        converted["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        converted["tool_calls"] = [call.model_dump() for call in message.tool_calls]
    return converted


async def _stream(caller: Caller, request: GenerationRequest) -> Frames:
    items = await open_stream(caller, request)  # its calls come whole, at the end
    return frames(items, encode_item, encode_error)


def encode_item(item: StreamItem) -> bytes:
    if isinstance(item, TextDelta):
        return encode_response(item.text)
    if not isinstance(item, StreamEnd):  # thinking is not part of its answers (issue 14,
        return b""  # item 5); its calls come whole, at the end (it asks for no deltas)
    final: dict[str, object] = {"response": "", "usage": _usage(item.usage).model_dump()}
    if item.tool_calls:
        final["tool_calls"] = [call.model_dump() for call in _calls(item.tool_calls)]
    final["finish_reason"] = item.finish_reason
    return encode_data(final)


def _calls(calls: list[ToolCall]) -> list[ToolCallOut]:
    """The family's ``{name, arguments}``: the ids the engine gives calls are /v1's."""
    return [ToolCallOut(name=call["name"], arguments=call["arguments"]) for call in calls]


def _usage(usage: Any) -> Usage:
    return Usage(**{key: usage[key] for key in NATIVE_USAGE})


def encode_error(error: ApiError) -> bytes:
    return error_frame(NATIVE, error)
