"""The OpenAI family (`/v1`): its requests as a ``GenerationRequest``, and the engine's
results as ``chat.completion`` bodies or ``chat.completion.chunk`` frames.

The REST v1 family answers in the same shapes (its seed documents them), so
``services.v1`` uses the encoders here. Chunks are built as plain dicts and encoded
directly: they are the hot path of every stream.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from llm_api.binding.protocol import LOGPROBS, TokenLogprob
from llm_api.binding.run_options import session_affinity
from llm_api.catalog import Catalog, ModelInfo
from llm_api.errors import OPENAI, ApiError, Family, InvalidRequest
from llm_api.schemas.openai import (
    ChatCompletionRequest,
    FunctionCall,
    Message,
    ModelList,
    ModelObject,
    TextPart,
)
from llm_api.services.generation import (
    Caller,
    GenerationRequest,
    ReasoningDelta,
    StreamEnd,
    StreamItem,
    TextDelta,
    ToolCallDelta,
    complete,
    open_stream,
    response_format_inputs,
)
from llm_api.services.openai_body import completion_body as completion_body
from llm_api.services.openai_body import new_completion_id as new_completion_id
from llm_api.services.openai_body import openai_tool_calls as openai_tool_calls
from llm_api.services.openai_body import wire_usage as wire_usage
from llm_api.sse import Frames, encode_data, error_frame, frames, json_string

#: A fixed creation time for catalog entries (the Workers AI launch), so listings are stable.
CATALOG_CREATED = 1_695_859_200
DEFAULT_MAX_TOKENS = 1024
#: the request fields passed on as the binding's input fields of the same name
SAMPLING_FIELDS = {"temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"}


def model_list(catalog: Catalog) -> ModelList:
    return ModelList(data=[_model_object(model) for model in catalog.models()])


def model(catalog: Catalog, model_id: str) -> ModelObject:
    return _model_object(catalog.resolve(model_id))


def _model_object(model: ModelInfo) -> ModelObject:
    """OpenAI's fields; ``owned_by`` is the author (``@cf/<author>/``), and a retired model
    carries the native listing's ``deprecated``/``retired_on``/``replacement`` too."""
    author = model.prefix.strip("/").rpartition("/")[2] or "cloudflare"
    entry = ModelObject(id=model.id, created=CATALOG_CREATED, owned_by=author)
    if model.deprecated:
        entry.deprecated = True
        entry.retired_on = model.retired_on.isoformat() if model.retired_on else None
        entry.replacement = model.replacement
    return entry


async def chat_completions(caller: Caller, body: ChatCompletionRequest) -> dict[str, Any] | Frames:
    """A ``chat.completion`` body (dumped: see ``completion_body``), or its chunks."""
    request = to_generation_request(body, caller.catalog)
    if body.logprobs and LOGPROBS not in caller.features:  # Workers AI: no model gives them
        raise InvalidRequest(
            f"logprobs: this server's backend ({caller.ai.engine}) does not return token "
            "log-probabilities; send the request without logprobs",
            param="logprobs",
        )
    session = session_affinity(body.prompt_cache_key, param="prompt_cache_key")
    if session is not None:  # OpenAI's name for the conversation wins over the header
        caller = replace(caller, session_affinity=session)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return await chunk_frames(
            caller, request, include_usage=include_usage, family=OPENAI, include_reasoning=True
        )
    return completion_body(
        await complete(caller, request), request.model.id, include_reasoning=True
    )


async def chunk_frames(
    caller: Caller,
    request: GenerationRequest,
    *,
    include_usage: bool,
    family: Family,
    include_reasoning: bool = False,
    call_deltas: bool = True,
) -> Frames:
    """The stream of ``request`` as chunks; errors in-band in ``family``'s envelope;
    thinking as ``reasoning_content`` deltas with ``include_reasoning`` (/v1 only); tool
    calls as they are generated, or with ``call_deltas=False`` whole at the end."""
    # first: it may swap in a retired one's successor
    items = await open_stream(caller, request, call_deltas=call_deltas)
    encoder = ChunkEncoder(
        request.model.id,
        include_usage=include_usage,
        family=family,
        include_reasoning=include_reasoning,
    )
    return frames(items, encoder.encode, encoder.encode_error)


def to_generation_request(body: ChatCompletionRequest, catalog: Catalog) -> GenerationRequest:
    """Check what pydantic cannot, and map the OpenAI request onto the binding's inputs."""
    if body.n not in (None, 1):
        raise InvalidRequest("n: only n=1 is supported", param="n")
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest(
            "stream_options: only allowed when stream is true", param="stream_options"
        )
    if body.top_logprobs is not None and not body.logprobs:
        raise InvalidRequest(
            "top_logprobs: only allowed when logprobs is true", param="top_logprobs"
        )
    model = catalog.resolve(body.model)
    _text_only(body.messages, model)
    tools = [tool.model_dump(exclude_none=True) for tool in body.tools] if body.tools else None
    choice = body.tool_choice
    choice = choice if choice is None or isinstance(choice, str) else choice.model_dump()
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
        response_format=response_format_inputs(body.response_format),
        reasoning_effort=body.reasoning_effort,
    )


def _sampling(body: ChatCompletionRequest, model: ModelInfo) -> dict[str, Any]:
    max_tokens = body.max_completion_tokens or body.max_tokens
    sampling: dict[str, Any] = {
        "max_tokens": max_tokens or min(DEFAULT_MAX_TOKENS, model.context_window),
        **body.model_dump(include=SAMPLING_FIELDS, exclude_none=True),
    }
    if body.stop:
        sampling["stop"] = [body.stop] if isinstance(body.stop, str) else body.stop
    if body.logprobs:  # inputs of the bindings that declare them (``protocol.LOGPROBS``)
        sampling.update(logprobs=True, top_logprobs=body.top_logprobs or 0)
    return sampling


def _text_only(messages: list[Message], model: ModelInfo) -> None:
    """Refuse a content part that is not text, by its place: nothing passes images, audio
    or files to a model yet, and dropping them would answer a question never asked."""
    for i, message in enumerate(messages):
        for j, part in enumerate(message.content if isinstance(message.content, list) else []):
            if isinstance(part, TextPart):
                continue
            why = (
                "this server sends models text only"
                if model.vision
                else f"the model '{model.short_id}' takes text only"
            )
            raise InvalidRequest(
                f"messages[{i}].content[{j}]: '{part.type}' content is not supported: {why}",
                param=f"messages[{i}].content[{j}]",
            )


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


def _arguments(function: FunctionCall) -> dict[str, Any]:
    """A client's earlier tool call's arguments (JSON text) as an object, or a 400."""
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


# --- answers ---------------------------------------------------------------------------


class ChunkEncoder:
    """Turns stream items into ``chat.completion.chunk`` SSE frames for one response.

    Every chunk shares one id and ``created``; the first delta carries the role;
    ``finish_reason`` appears exactly once; with ``include_usage`` each chunk has
    ``usage: null`` and one extra last chunk has ``choices: []`` and the usage. Tool calls
    stream as OpenAI streams them (``ToolCallDelta``): ``index``, ``id``, ``type`` and the
    name first, then ``index`` and pieces of ``function.arguments``; never again at the end.
    """

    def __init__(
        self, model: str, *, include_usage: bool, family: Family, include_reasoning: bool = False
    ) -> None:
        self.id = new_completion_id()
        self.include_reasoning = include_reasoning
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.family = family
        self._role_sent = False
        self._streamed_calls: set[str] = set()  # the ids of the calls sent as deltas
        # A text chunk after the first is these two around the text: what `_frame` would
        # write, at a tenth of the cost (tests/unit/services/test_openai_frames.py checks).
        self._text_head = (
            f'data: {{"id":{json_string(self.id)},"object":"chat.completion.chunk",'
            f'"created":{self.created},"model":{json_string(model)},'
            '"service_tier":"default","system_fingerprint":null,'
            '"choices":[{"index":0,"delta":{"content":'
        ).encode()
        self._text_tail = (
            '},"finish_reason":null,"logprobs":null}]'
            + (',"usage":null' if include_usage else "")
            + "}\n\n"
        ).encode()

    def encode(self, item: StreamItem) -> bytes:
        if isinstance(item, TextDelta):
            if item.logprobs is not None:
                return self._frame({"content": item.text}, logprobs=item.logprobs)
            if self._role_sent:
                try:
                    return self._text_head + json_string(item.text).encode() + self._text_tail
                except UnicodeEncodeError:  # a lone surrogate: encode_data escapes it
                    pass
            return self._frame({"content": item.text})
        if isinstance(item, ReasoningDelta):  # never in content; /v1 shows it apart
            return self._frame({"reasoning_content": item.text}) if self.include_reasoning else b""
        if isinstance(item, ToolCallDelta):
            return self._tool_call(item)
        return self._end(item)

    def _tool_call(self, delta: ToolCallDelta) -> bytes:
        call: dict[str, Any] = {"index": delta.index}
        if delta.name:  # its first delta: what OpenAI's first one has
            self._streamed_calls.add(delta.id)
            call.update(id=delta.id, type="function")
            call["function"] = {"name": delta.name, "arguments": delta.arguments}
        else:
            call["function"] = {"arguments": delta.arguments}
        head: dict[str, Any] = {} if self._role_sent else {"content": None}
        return self._frame({**head, "tool_calls": [call]})

    def encode_error(self, error: ApiError) -> bytes:
        return error_frame(self.family, error)

    def _end(self, end: StreamEnd) -> bytes:
        frames = b""
        if not self._role_sent:
            frames += self._frame({"content": ""})
        whole = [call for call in end.tool_calls if call.get("id") not in self._streamed_calls]
        if whole:  # calls not streamed as deltas (none from the engine's own streams)
            first = len(self._streamed_calls)
            deltas = [
                {"index": first + index, **call}
                for index, call in enumerate(openai_tool_calls(whole))
            ]
            frames += self._frame({"tool_calls": deltas})
        frames += self._frame({}, finish_reason=end.finish_reason)
        if self.include_usage:
            usage = wire_usage(end.usage)
            frames += encode_data({**self._envelope(), "choices": [], "usage": usage})
        return frames

    def _frame(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: list[TokenLogprob] | None = None,
    ) -> bytes:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        chunk = self._envelope()
        scored = None if logprobs is None else {"content": logprobs, "refusal": None}
        chunk["choices"] = [
            {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": scored}
        ]
        if self.include_usage:
            chunk["usage"] = None
        return encode_data(chunk)

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": None,
        }
