"""OpenAI's Responses API (`/v1/responses`) on the one generation engine.

A request becomes a ``GenerationRequest`` (its conversation: the previous response's, then
this input); the engine's answer becomes a response object, or its typed events
(``responses_stream``). With ``store`` (the default) the response is kept in the platform's
``ResponseStore`` under the caller's key, as one JSON record: the response object and the
whole conversation so far, which ``previous_response_id`` continues. A key sees its own
records only: every lookup names the key, and an unknown, expired or another key's id is
the same 404.

A record is at most ``MAX_RECORD_BYTES``: a conversation already over it with this input is
a 400 before any model call; one that the answer takes over it is answered, not kept, and
says so (``store: false``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from llm_api.binding.protocol import Usage
from llm_api.binding.run_options import session_affinity
from llm_api.catalog import Catalog, ModelInfo
from llm_api.errors import ApiError, InvalidRequest, PreviousResponseNotFound, ResponseNotFound
from llm_api.schemas.responses import DeletedResponse, ResponseCreateRequest
from llm_api.services.generation import (
    Caller,
    GenerationRequest,
    StreamEnd,
    complete,
    open_stream,
)
from llm_api.services.openai import DEFAULT_MAX_TOKENS
from llm_api.services.responses_input import (
    Item,
    binding_messages,
    conversation_items,
    output_conversation,
)
from llm_api.services.responses_output import (
    call_limit,
    finished,
    new_response_id,
    openai_calls,
    output_items,
    response_of_item,
    shell,
    status_of,
)
from llm_api.services.responses_stream import ResponseEvents, event_frames
from llm_api.sse import Frames
from llm_api.stored_responses import MAX_RECORD_BYTES, ResponseStore

logger = logging.getLogger("llm_api")
#: ids made here are 37 characters; a longer one is nobody's (and is not looked up)
MAX_ID_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Responses:
    """The caller's stored responses: the platform's store, seen through one key."""

    store: ResponseStore
    key_id: str

    async def record(self, response_id: str) -> dict[str, Any] | None:
        if len(response_id) > MAX_ID_LENGTH:
            return None  # made by no one here
        raw = await self.store.load(self.key_id, response_id)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            logger.warning("stored response %s is not JSON; treated as missing", response_id)
            return None
        return record if isinstance(record, dict) and "response" in record else None

    def item_lookup(self) -> Callable[[str], Awaitable[Item | None]]:
        """Output items of this key's responses by id (``item_reference``), for one request:
        each response is loaded once, however many of its items the input references (the
        AI SDK references every item of the last answer)."""
        records: dict[str, dict[str, Any] | None] = {}

        async def output_item(reference: str) -> Item | None:
            response_id = response_of_item(reference)
            if not response_id:
                return None
            if response_id not in records:
                records[response_id] = await self.record(response_id)
            record = records[response_id]
            output = record["response"].get("output", []) if record else []
            return next((item for item in output if item.get("id") == reference), None)

        return output_item

    async def keep(self, response: dict[str, Any], conversation: list[Item]) -> dict[str, Any]:
        """Store ``response`` with its conversation; answered with ``store: false`` when the
        record is over the bound or the store fails (it was not kept)."""
        record = _dumps({"response": response, "conversation": conversation})
        try:
            await self.store.save(
                self.key_id, response["id"], record, created_at=response["created_at"]
            )
        except ValueError:  # over MAX_RECORD_BYTES: every store checks (check_record)
            logger.info("response %s not stored: its record is over the bound", response["id"])
            return {**response, "store": False}
        except (ApiError, OSError):
            logger.warning("response %s could not be stored", response["id"], exc_info=True)
            return {**response, "store": False}
        return response


async def create(
    caller: Caller, responses: Responses, body: ResponseCreateRequest
) -> dict[str, Any] | Frames:
    """A response object (dumped), or with ``stream`` its events."""
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest(
            "stream_options: only allowed when stream is true", param="stream_options"
        )
    session = session_affinity(body.prompt_cache_key, param="prompt_cache_key")
    if session is not None:
        caller = replace(caller, session_affinity=session)
    conversation = await _conversation(responses, body)
    request = to_generation_request(body, caller.catalog, conversation)
    response_id, created_at = new_response_id(), int(time.time())
    limit = call_limit(body)

    async def finish(output: list[Item], usage: Usage, finish_reason: str) -> dict[str, Any]:
        response = finished(
            shell(response_id, created_at, request.model.id, body), output, usage, finish_reason
        )
        if not body.store:
            return response
        return await responses.keep(response, conversation + output_conversation(output))

    if body.stream:
        # first: it may swap in a successor
        items = await open_stream(caller, request, call_deltas=True)
        events = ResponseEvents(
            shell(response_id, created_at, request.model.id, body),
            lambda end: _calls(end, limit),
            call_limit=limit,
        )
        return event_frames(items, events, finish)
    completion = await complete(caller, request)
    calls = openai_calls(completion.tool_calls, limit)
    status = status_of(completion.finish_reason)
    output = output_items(response_id, completion.reasoning, completion.text, calls, status)
    return await finish(output, completion.usage, completion.finish_reason)


def _calls(end: StreamEnd, limit: int | None) -> list[dict[str, Any]]:
    return openai_calls(end.tool_calls, limit)


async def retrieve(responses: Responses, response_id: str) -> dict[str, Any]:
    record = await responses.record(response_id)
    if record is None:
        raise _not_found(response_id)
    stored: dict[str, Any] = record["response"]
    return stored


async def delete(responses: Responses, response_id: str) -> DeletedResponse:
    too_long = len(response_id) > MAX_ID_LENGTH
    if too_long or not await responses.store.delete(responses.key_id, response_id):
        raise _not_found(response_id)
    return DeletedResponse(id=response_id)


def _not_found(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"Response with id '{response_id}' not found.")


async def _conversation(responses: Responses, body: ResponseCreateRequest) -> list[Item]:
    """The previous response's conversation, then this input's items; bounded."""
    previous: list[Item] = []
    if body.previous_response_id is not None:
        record = await responses.record(body.previous_response_id)
        if record is None:
            raise PreviousResponseNotFound(
                f"Previous response with id '{body.previous_response_id}' not found.",
                param="previous_response_id",
            )
        previous = list(record.get("conversation", []))
    conversation = previous + await conversation_items(body.input, responses.item_lookup())
    if not conversation:
        raise InvalidRequest("input: required (or a previous_response_id)", param="input")
    if body.store:
        size = len(_dumps(conversation).encode())
        if size > MAX_RECORD_BYTES:
            raise InvalidRequest(
                f"input: the conversation is {size} bytes, over the {MAX_RECORD_BYTES} a "
                "stored response keeps; send store: false, or start a new conversation",
                param="input",
            )
    return conversation


def to_generation_request(
    body: ResponseCreateRequest, catalog: Catalog, conversation: list[Item]
) -> GenerationRequest:
    model = catalog.resolve(body.model)
    tools: list[dict[str, Any]] | None = [
        {
            "type": "function",
            "function": tool.model_dump(exclude_none=True, exclude={"type", "strict"}),
        }
        for tool in body.tools or []
    ] or None
    choice: Any = body.tool_choice
    if choice is not None and not isinstance(choice, str):
        if choice.name not in {tool.name for tool in body.tools or []}:
            raise InvalidRequest(
                f"tool_choice: '{choice.name}' is not one of the given tools", param="tool_choice"
            )
        choice = {"type": "function", "function": {"name": choice.name}}
    if choice == "none" or not tools:
        tools, choice = None, None  # no tools offered at all: plain text, on every backend
    return GenerationRequest(
        model=model,
        messages=binding_messages(body.instructions, conversation),
        sampling=_sampling(body, model),
        tools=tools,
        tool_choice=choice,
        response_format=_response_format(body),
        reasoning_effort=body.reasoning.effort if body.reasoning else None,
    )


def _sampling(body: ResponseCreateRequest, model: ModelInfo) -> dict[str, Any]:
    sampling: dict[str, Any] = {
        "max_tokens": body.max_output_tokens or min(DEFAULT_MAX_TOKENS, model.context_window)
    }
    sampling.update(body.model_dump(include={"temperature", "top_p"}, exclude_none=True))
    return sampling


def _response_format(body: ResponseCreateRequest) -> dict[str, Any] | None:
    wanted = body.text.format if body.text else None
    if wanted is None or wanted.type == "text":
        return None
    if wanted.type == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": wanted.schema_}  # type: ignore[union-attr]


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII = json.JSONEncoder(separators=(",", ":"))


def _dumps(value: Any) -> str:
    """Compact JSON text that is valid UTF-8 (a lone surrogate is escaped, not kept)."""
    text = _COMPACT.encode(value)
    try:
        text.encode()
    except UnicodeEncodeError:
        return _ASCII.encode(value)
    return text
