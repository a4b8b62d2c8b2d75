"""The one generation engine behind every API family.

Routes turn their wire request into a ``GenerationRequest``; this module checks it
against the model and the caller's account, calls the caller's AI binding, records the
usage, and returns a ``Completion`` or a stream of ``TextDelta`` items ending in one
``StreamEnd``. Wire formats are the routes' business.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from llm_api.binding.accounted import UNMETERED, Account
from llm_api.binding.answers import (
    CHARS_PER_TOKEN_LOW_ESTIMATE,
    answer_of,
    counted_usage,
    require_json,
    well_formed,
    well_formed_calls,
)
from llm_api.binding.events import StreamAssembler, dumps, parse_event, tool_call
from llm_api.binding.protocol import (
    AIBinding,
    RunResult,
    SSEByteStream,
    TokenLogprob,
    ToolCall,
    Usage,
)
from llm_api.binding.run_options import session_options
from llm_api.binding.tool_stream import ToolCallStream, cut_tool_call
from llm_api.catalog import TABLE_CATALOG, Catalog, ModelInfo
from llm_api.errors import BackendError, ContextOverflow, InvalidRequest, ModelRetired
from llm_api.schemas.common import ResponseFormat
from llm_api.services.generation_items import Completion as Completion
from llm_api.services.generation_items import ReasoningDelta as ReasoningDelta
from llm_api.services.generation_items import StreamEnd as StreamEnd
from llm_api.services.generation_items import StreamItem as StreamItem
from llm_api.services.generation_items import TextDelta as TextDelta
from llm_api.services.generation_items import ToolCallDelta as ToolCallDelta
from llm_api.services.serving import ReplyHeaders, retired_message, serving_model
from llm_api.sse import iter_sse_data


@dataclass(frozen=True, slots=True)
class Caller:
    """Who generates: the AI binding to call, the account that authorizes and records, the
    host's catalog (which model answers for which), the answer's extra headers, the
    conversation (``x-session-affinity``) whose prompt prefix Workers AI may cache, and
    what the binding does beyond Workers AI (``protocol.features_of``)."""

    ai: AIBinding
    account: Account = UNMETERED
    catalog: Catalog = TABLE_CATALOG
    reply: ReplyHeaders = field(default_factory=ReplyHeaders)
    session_affinity: str | None = None
    features: frozenset[str] = frozenset()

    def options(self) -> dict[str, Any] | None:
        """The binding's third argument for this caller's calls."""
        return session_options(self.session_affinity)


@dataclass(slots=True)
class GenerationRequest:
    model: ModelInfo
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    #: the caller's ``reasoning_effort`` (OpenAI's values); None: the model's default
    reasoning_effort: str | None = None
    #: a structured job (tutor, prompt optimiser): thinking off or low where the model allows
    structured: bool = False

    def binding_inputs(self, *, stream: bool) -> dict[str, Any]:
        inputs: dict[str, Any] = dict(self.sampling)
        quiet = self.structured or self.response_format is not None  # JSON jobs do not muse
        inputs.update(reasoning_inputs(self.model, self.reasoning_effort, quiet=quiet))
        if self.messages is not None:
            inputs["messages"] = self.messages
        else:
            inputs["prompt"] = self.prompt
        if self.tools:
            inputs["tools"] = self.tools
            if self.tool_choice is not None:
                inputs["tool_choice"] = self.tool_choice
        if self.response_format:
            inputs["response_format"] = self.response_format
        if stream:
            inputs["stream"] = True
        return inputs

    def input_text_length(self) -> int:
        if self.messages is None:
            return len(self.prompt or "")
        return sum(len(str(message.get("content") or "")) for message in self.messages)


#: OpenAI's efforts that Workers AI takes as they are (``low|medium|high``, [M-glm][M-oss120])
EFFORTS = ("low", "medium", "high")


def reasoning_inputs(model: ModelInfo, effort: str | None, *, quiet: bool) -> dict[str, Any]:
    """What tells ``model`` how hard to think (``binding.workers_ai`` sends it only to the
    Chat Completions shape; other backends ignore it). Nothing for a model that does not
    reason. ``none``/``minimal`` or a quiet job (no effort asked) switch thinking off where
    the catalog says how (``thinking_kwarg`` → ``chat_template_kwargs``, [M-glm], [RN
    2026-04-20]), else ask for the lowest effort (gpt-oss cannot stop thinking [M-oss120])."""
    if not model.reasoning:
        return {}
    supported = model.reasoning_effort.supported if model.reasoning_effort else EFFORTS
    if effort in EFFORTS:
        return {"reasoning_effort": effort} if effort in supported else {}
    if effort is None and not quiet:
        return {}
    if model.thinking_kwarg and not model.forced_reasoning:
        return {"chat_template_kwargs": {model.thinking_kwarg: False}}
    if model.reasoning_effort is not None and "low" in supported:
        return {"reasoning_effort": "low"}
    return {}  # gemma-4, qwen3: no documented switch (facts-14 §5)


def response_format_inputs(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    """A request's ``response_format`` (native and OpenAI alike) in the binding's form;
    ``None`` for plain text."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return {"type": "json_object"}
    assert response_format.json_schema is not None  # the model's validator requires it
    return {"type": "json_schema", "json_schema": response_format.json_schema.schema_}


def _serve(caller: Caller, request: GenerationRequest) -> ModelInfo:
    model, requested = serving_model(caller.catalog, caller.reply, request.model)
    request.model = model
    return requested


def check_request(caller: Caller, request: GenerationRequest) -> None:
    """Swap a retired model for its successor (``serve``), refuse what the model cannot do
    (400s) or the caller may not use (403), before any model call, and cap ``max_tokens``
    to the room the prompt leaves in the model's context window."""
    requested = _serve(caller, request)
    _check_model(request)
    caller.account.authorize(requested.id)  # the key names what it may ask for


def _check_model(request: GenerationRequest) -> None:
    model = request.model
    if request.tools and not model.supports_tools:
        raise InvalidRequest(
            f"tools: the model '{model.short_id}' does not support function calling; "
            "use a model whose supportsTools is true",
            param="tools",
        )
    estimated = request.input_text_length() // CHARS_PER_TOKEN_LOW_ESTIMATE
    if estimated >= model.context_window:
        field_name = "messages" if request.messages is not None else "prompt"
        raise ContextOverflow(
            f"{field_name}: about {estimated} tokens, which cannot fit the context window of "
            f"'{model.short_id}' ({model.context_window} tokens)",
            param=field_name,
        )
    max_tokens = request.sampling.get("max_tokens")
    room = model.context_window - estimated
    if max_tokens is not None and max_tokens > room:
        request.sampling["max_tokens"] = room


async def _run(caller: Caller, request: GenerationRequest, *, stream: bool) -> Any:
    """One model call. A 5028 (``ModelRetired``) marks the model retired from today in the
    host's catalog (facts-14 §3); a pinned successor then answers this request and the next
    ones, and with none the 410 names a model to use."""
    try:
        inputs = request.binding_inputs(stream=stream)
        return await caller.ai.run(request.model.id, inputs, caller.options())
    except ModelRetired as exc:
        retired = caller.catalog.mark_retired(request.model.id)
        if caller.catalog.serving_model(retired) is None:
            raise ModelRetired(
                retired.id,
                message=retired_message(caller.catalog, retired),
                detail=exc.detail,
            ) from exc
    _serve(caller, request)
    _check_model(request)
    inputs = request.binding_inputs(stream=stream)
    return await caller.ai.run(request.model.id, inputs, caller.options())


async def complete(caller: Caller, request: GenerationRequest) -> Completion:
    check_request(caller, request)
    result = answer_of(await _run(caller, request, stream=False))
    text, reasoning = result["response"], result.get("reasoning", "")
    tool_calls, usage, finish_reason = await _finish(caller, request, result, text, reasoning)
    completion = Completion(
        text=well_formed(text),
        usage=usage,
        tool_calls=well_formed_calls(tool_calls),
        finish_reason=finish_reason,
        reasoning=well_formed(reasoning),
        logprobs=_asked(request, result.get("logprobs")),
    )
    if request.response_format and not tool_calls:
        require_json(completion.text, completion.finish_reason)
    return completion


async def open_stream(
    caller: Caller, request: GenerationRequest, *, call_deltas: bool = False
) -> AsyncIterator[StreamItem]:
    """Start a stream and wait for its first item, so early failures still raise here
    (and get a real HTTP status) instead of after the response has started. With
    ``call_deltas``, tool calls also stream as ``ToolCallDelta`` items as they arrive (and
    the stream starts with the first); without, a family that sends its calls whole gets
    none, and so still a real status for a call that the one rule refuses (arguments are
    only whole, and judged, at the end). ``StreamEnd.tool_calls`` has them whole either way."""
    check_request(caller, request)
    items = _stream_items(caller, request, call_deltas)
    try:
        first = await anext(items)
    except BaseException:
        await items.aclose()
        raise
    return _prepend(first, items)


async def _prepend(
    first: StreamItem, rest: AsyncGenerator[StreamItem, None]
) -> AsyncIterator[StreamItem]:
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        await rest.aclose()


async def _stream_items(
    caller: Caller, request: GenerationRequest, call_deltas: bool
) -> AsyncGenerator[StreamItem, None]:
    upstream: RunResult | SSEByteStream = await _run(caller, request, stream=True)
    if isinstance(upstream, dict):
        # A backend may answer a stream request in one piece (gpt-oss; JSON mode, which
        # cannot stream on Workers AI [JM]); replay it as a stream.
        result = answer_of(upstream)
        text, reasoning = result["response"], result.get("reasoning", "")
        calls, usage, finish = await _finish(caller, request, result, text, reasoning)
        if request.response_format and not calls:
            require_json(text, finish)
        if reasoning:
            yield ReasoningDelta(reasoning)
        if text:
            yield TextDelta(text, _asked(request, result.get("logprobs")))
        for index, call in enumerate(calls):  # each call whole, in one delta
            call["id"] = call.get("id") or new_call_id()
            arguments = call["arguments"]
            whole = arguments if isinstance(arguments, str) else dumps(arguments)
            if call_deltas:
                yield ToolCallDelta(index, call["id"], call["name"], whole)
        yield StreamEnd(usage=usage, finish_reason=finish, tool_calls=calls)
        return
    if not hasattr(upstream, "__aiter__"):
        raise BackendError(
            "the backend answered a stream request with neither a result nor a stream"
        )
    assembler = StreamAssembler()
    calls_so_far = ToolCallStream(new_call_id)
    text_parts: list[str] = []
    thinking: list[str] = []
    scored: list[TokenLogprob] | None = None  # log-probabilities that came before their text
    events = iter_sse_data(upstream)
    try:
        async for data in events:
            event = parse_event(data)
            if event is None:
                break
            text = assembler.feed(event)
            if event.reasoning:
                thinking.append(event.reasoning)
                yield ReasoningDelta(event.reasoning)
            if _asked(request, event.logprobs):
                scored = (scored or []) + event.logprobs
            if text:
                text_parts.append(text)
                yield TextDelta(text, scored)
                scored = None
            for delta in calls_so_far.feed(event):  # each piece as it arrives (issue 15)
                if call_deltas:
                    yield ToolCallDelta(
                        delta["index"], delta["id"], delta["name"], delta["arguments"]
                    )
    finally:
        await events.aclose()
        await upstream.aclose()
    result = assembler.result()
    result.pop("tool_calls", None)
    if streamed := calls_so_far.calls():
        result["tool_calls"] = streamed  # with the ids their deltas had
    calls, usage, finish = await _finish(
        caller, request, result, "".join(text_parts), "".join(thinking)
    )
    yield StreamEnd(usage=usage, finish_reason=finish, tool_calls=calls)


def _asked(request: GenerationRequest, logprobs: Any) -> list[TokenLogprob] | None:
    """A backend's ``logprobs`` where the request asked for them (``inputs["logprobs"]``),
    else None: an upstream may send them unasked."""
    return logprobs if request.sampling.get("logprobs") else None


async def _finish(
    caller: Caller, request: GenerationRequest, result: RunResult, text: str, reasoning: str
) -> tuple[list[ToolCall], Usage, str]:
    """The end of every answer, whole or streamed: its tool calls by the one rule
    (``events.tool_call``; arguments cut by ``max_tokens`` kept as text), its usage counted
    and recorded (thinking is output too), its finish reason."""
    judge = cut_tool_call if result.get("finish_reason") == "length" else tool_call
    calls = [judge(raw) for raw in result.get("tool_calls", [])]
    usage, estimated = _usage(result.get("usage"), request, text + reasoning, calls)
    await caller.account.record(request.model.id, usage, estimated=estimated)
    finish = _finish_reason(result.get("finish_reason"), calls, usage, request)
    if finish == "stop" and reasoning and not text and not calls and _at_limit(usage, request):
        finish = "length"  # all of max_tokens went on thinking: no answer, not a success
    return calls, usage, finish


def _usage(
    raw: Any, request: GenerationRequest, text: str, tool_calls: list[ToolCall]
) -> tuple[Usage, bool]:
    return counted_usage(
        raw,
        context_window=request.model.context_window,
        prompt_chars=request.input_text_length(),
        text=text,
        tool_calls=tool_calls,
    )


def _finish_reason(
    reported: Any,
    tool_calls: list[ToolCall],
    usage: Usage,
    request: GenerationRequest,
) -> str:
    if tool_calls:
        return "length" if reported == "length" else "tool_calls"
    if reported in ("stop", "length", "content_filter"):
        return reported
    return "length" if _at_limit(usage, request) else "stop"


def _at_limit(usage: Usage, request: GenerationRequest) -> bool:
    max_tokens = request.sampling.get("max_tokens")
    return max_tokens is not None and usage["completion_tokens"] >= max_tokens


def new_call_id() -> str:
    """OpenAI's form of a tool call id, for a call whose backend gave it none."""
    return f"call_{uuid.uuid4().hex[:24]}"
