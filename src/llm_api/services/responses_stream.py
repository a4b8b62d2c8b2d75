"""A Responses API stream: the engine's items as OpenAI's typed events.

``response.created`` and ``response.in_progress``; per output item ``output_item.added``,
its parts and deltas, ``output_item.done``; then ``response.completed`` (or
``response.incomplete``) with the usage — or, on a failure after the start, an ``error``
event and ``response.failed``. Every event is ``event: <type>`` + ``data: {...}`` with a
``sequence_number`` counting from 0; no ``[DONE]`` (OpenAI sends none on this API).

A function call is sent as it is generated: ``output_item.added`` when the engine names it
(``ToolCallDelta``), then each piece of its arguments as a
``function_call_arguments.delta``; a call that arrives only whole in ``StreamEnd`` (a
backend that answered in one piece) is sent as one delta. Calls past the request's limit
(``parallel_tool_calls: false``, ``max_tool_calls``) are not sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llm_api.binding.protocol import Usage
from llm_api.errors import ApiError, RateLimited, public_error
from llm_api.services.generation import (
    ReasoningDelta,
    StreamEnd,
    StreamItem,
    TextDelta,
    ToolCallDelta,
)
from llm_api.services.responses_output import (
    call_item,
    item_id,
    message_item,
    reasoning_item,
    status_of,
    text_part,
)
from llm_api.sse import Frames, encode_data

logger = logging.getLogger("llm_api")

#: (output items, usage, finish reason) -> the final response object (kept if stored)
Finish = Callable[[list[dict[str, Any]], Usage, str], Awaitable[dict[str, Any]]]
OpenCalls = Callable[[StreamEnd], list[dict[str, Any]]]


@dataclass(slots=True)
class _Open:
    """An output item being streamed: its index, id and text so far."""

    index: int
    id: str
    parts: list[str] = field(default_factory=list)
    call: dict[str, Any] | None = None


class ResponseEvents:
    def __init__(
        self, response: dict[str, Any], calls_of: OpenCalls, call_limit: int | None = None
    ) -> None:
        self.response = response
        self.calls_of = calls_of
        self.call_limit = call_limit
        self.sequence = 0
        self.output: list[dict[str, Any]] = []  # items done, by output index
        self._reasoning: _Open | None = None
        self._message: _Open | None = None
        self._calls: dict[int, _Open] = {}

    def event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\n" + encode_data(payload)

    def start(self) -> bytes:
        return self.event("response.created", {"response": self.response}) + self.event(
            "response.in_progress", {"response": self.response}
        )

    def encode(self, item: StreamItem) -> bytes:
        if isinstance(item, TextDelta):
            return self._text(item.text)
        if isinstance(item, ReasoningDelta):
            return self._thinking(item.text)
        if isinstance(item, ToolCallDelta):
            return self._call_piece(item)
        return b""

    def end(self, end: StreamEnd) -> bytes:
        """Close every open item; the final event is ``finish``'s (``completed``)."""
        status = status_of(end.finish_reason)
        frames = self._close_reasoning()
        calls = self.calls_of(end)
        if self._message is None and not calls:
            frames += self._open_message()  # an answer of nothing is an empty message
        frames += self._close_message(status)
        for index, call in enumerate(calls):
            if index not in self._calls:  # not streamed as fragments: whole, in one delta
                arguments = call["function"]["arguments"]
                frames += self._open_call(index, call) + self._call_delta(index, arguments)
        for index in list(self._calls):
            frames += self._close_call(index, status)
        return frames

    def completed(self, response: dict[str, Any]) -> bytes:
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return self.event(kind, {"response": response})

    def failed(self, error: ApiError) -> bytes:
        code = "rate_limit_exceeded" if isinstance(error, RateLimited) else "server_error"
        response = {
            **self.response,
            "status": "failed",
            "output": [item for item in self.output if item],
            "error": {"code": code, "message": error.message},
        }
        frames = self.event(
            "error", {"code": error.openai_code, "message": error.message, "param": error.param}
        )
        return frames + self.event("response.failed", {"response": response})

    # --- items ---------------------------------------------------------------------------

    def _new(self, kind: str) -> _Open:
        index = len(self.output)
        self.output.append({})  # its place; filled when done
        return _Open(index, item_id(self.response["id"], kind, index))

    def _done(self, item: _Open, done: dict[str, Any]) -> bytes:
        self.output[item.index] = done
        return self.event("response.output_item.done", {"output_index": item.index, "item": done})

    def _thinking(self, text: str) -> bytes:
        frames = b""
        if self._reasoning is None:
            self._reasoning = self._new("rs")
            opened = reasoning_item(self._reasoning.id, None, "in_progress")
            frames += self._added(self._reasoning, opened) + self.event(
                "response.reasoning_summary_part.added",
                {**self._at(self._reasoning), "summary_index": 0, "part": _summary("")},
            )
        self._reasoning.parts.append(text)
        return frames + self.event(
            "response.reasoning_summary_text.delta",
            {**self._at(self._reasoning), "summary_index": 0, "delta": text},
        )

    def _close_reasoning(self) -> bytes:
        item, self._reasoning = self._reasoning, None
        if item is None:
            return b""
        text = "".join(item.parts)
        at = {**self._at(item), "summary_index": 0}
        return (
            self.event("response.reasoning_summary_text.done", {**at, "text": text})
            + self.event("response.reasoning_summary_part.done", {**at, "part": _summary(text)})
            + self._done(item, reasoning_item(item.id, text, "completed"))
        )

    def _text(self, text: str) -> bytes:
        frames = self._close_reasoning()
        if self._message is None:
            frames += self._open_message()
        assert self._message is not None
        self._message.parts.append(text)
        return frames + self.event(
            "response.output_text.delta",
            {**self._at(self._message), "content_index": 0, "delta": text, "logprobs": []},
        )

    def _open_message(self) -> bytes:
        self._message = self._new("msg")
        opened = message_item(self._message.id, None, "in_progress")
        return self._added(self._message, opened) + self.event(
            "response.content_part.added",
            {**self._at(self._message), "content_index": 0, "part": text_part("")},
        )

    def _close_message(self, status: str) -> bytes:
        item, self._message = self._message, None
        if item is None:
            return b""
        text = "".join(item.parts)
        at = {**self._at(item), "content_index": 0}
        return (
            self.event("response.output_text.done", {**at, "text": text, "logprobs": []})
            + self.event("response.content_part.done", {**at, "part": text_part(text)})
            + self._done(item, message_item(item.id, text, status))
        )

    def _call_piece(self, delta: ToolCallDelta) -> bytes:
        if self.call_limit is not None and delta.index >= self.call_limit:
            return b""
        frames = b""
        if delta.index not in self._calls:
            frames += self._close_reasoning()
            call = {"id": delta.id, "type": "function", "function": {"name": delta.name}}
            frames += self._open_call(delta.index, call)
        if delta.arguments:
            frames += self._call_delta(delta.index, delta.arguments)
        return frames

    def _open_call(self, index: int, call: dict[str, Any]) -> bytes:
        self._calls[index] = opened = self._new("fc")
        opened.call = call
        return self._added(opened, call_item(opened.id, call, "", "in_progress"))

    def _call_delta(self, index: int, fragment: str) -> bytes:
        item = self._calls[index]
        item.parts.append(fragment)
        return self.event(
            "response.function_call_arguments.delta", {**self._at(item), "delta": fragment}
        )

    def _close_call(self, index: int, status: str) -> bytes:
        item = self._calls.pop(index)
        assert item.call is not None
        arguments = "".join(item.parts)
        done = self.event(
            "response.function_call_arguments.done",
            {**self._at(item), "name": item.call["function"]["name"], "arguments": arguments},
        )
        return done + self._done(item, call_item(item.id, item.call, arguments, status))

    def _added(self, item: _Open, opened: dict[str, Any]) -> bytes:
        return self.event(
            "response.output_item.added", {"output_index": item.index, "item": opened}
        )

    @staticmethod
    def _at(item: _Open) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.index}


def _summary(text: str) -> dict[str, str]:
    return {"type": "summary_text", "text": text}


async def event_frames(
    items: AsyncIterator[StreamItem], events: ResponseEvents, finish: Finish
) -> Frames:
    """Frame each item as it arrives; the end keeps the response (``finish``) before
    ``response.completed`` is sent, so a client may continue it as soon as it reads that."""
    try:
        yield events.start()
        async for item in items:
            if isinstance(item, StreamEnd):
                frames = events.end(item)
                final = await finish(events.output, item.usage, item.finish_reason)
                yield frames + events.completed(final)
            else:
                yield events.encode(item)
    except ApiError as exc:
        yield events.failed(public_error(exc))
    except Exception:
        logger.exception("stream failed after it started")
        yield events.failed(ApiError("Internal error while streaming"))
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()
