"""A scripted AI binding for the fast suite: speaks the Workers AI protocol exactly.

By default it echoes the prompt (or last user message); ``script`` queues specific
answers: text, tool calls, an error raised by ``run``, or an error raised mid-stream.
Streams are cut into small byte chunks so SSE parsing sees awkward boundaries.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from llm_api.sse import DONE_FRAME, encode_data


@dataclass
class Scripted:
    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    raise_error: Exception | None = None  # raised by run() itself
    fail_after_pieces: int | None = None  # a stream raises this many pieces in
    stream_error: Exception | None = None
    finish_reason: str | None = None
    piece_delay: float = 0.0
    raw_events: list[bytes] | None = None  # a stream made of exactly these bytes
    raw_result: Any = None  # a non-streaming answer that is exactly this value
    whole_for_stream: bool = False  # a stream request answered with raw_result (gpt-oss does)
    hang: bool = False  # run() waits until it is cancelled, as a long generation would
    #: token entries (``protocol.TokenLogprob``): the result's ``logprobs``, or one per
    #: streamed piece, each in its piece's event
    logprobs: list[dict[str, Any]] | None = None


class ScriptedAI:
    engine = "scripted"

    def __init__(self, features: frozenset[str] = frozenset()) -> None:
        #: what it does beyond Workers AI (none by default, as Workers AI)
        self.features = features
        self.calls: list[dict[str, Any]] = []
        self.queue: deque[Scripted] = deque()
        self.streams_closed = 0
        self.hanging = 0  # run() calls waiting now (``hang``)
        self.cancelled = 0  # run() calls cancelled while they waited

    def script(self, **kwargs: Any) -> Scripted:
        item = Scripted(**kwargs)
        self.queue.append(item)
        return item

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        self.calls.append({"model": model, "inputs": inputs, "options": options})
        item = self.queue.popleft() if self.queue else Scripted()
        if item.raise_error is not None:
            raise item.raise_error
        if item.hang:
            self.hanging += 1
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                self.hanging -= 1
        text = item.text if item.text is not None else "echo: " + _last_input(inputs)
        usage = item.usage or {
            "prompt_tokens": len(_last_input(inputs).split()),
            "completion_tokens": len(text.split()),
            "total_tokens": len(_last_input(inputs).split()) + len(text.split()),
        }
        if not inputs.get("stream") or item.whole_for_stream:
            if item.raw_result is not None:
                return item.raw_result  # type: ignore[no-any-return]
            result: dict[str, Any] = {"response": text, "usage": usage}
            if item.tool_calls:
                result["tool_calls"] = item.tool_calls
            if item.finish_reason:
                result["finish_reason"] = item.finish_reason
            if item.logprobs is not None:
                result["logprobs"] = item.logprobs
            return result
        return self._stream(item, text, usage)

    async def _stream(
        self, item: Scripted, text: str, usage: dict[str, int]
    ) -> AsyncIterator[bytes]:
        try:
            if item.raw_events is not None:
                for raw in item.raw_events:
                    yield raw
                return
            pieces = [word + " " for word in text.split(" ")]
            pieces[-1] = pieces[-1][:-1]
            wire = b""
            for number, piece in enumerate(pieces):
                if item.fail_after_pieces is not None and number == item.fail_after_pieces:
                    for chunk in _chunks(wire):
                        yield chunk
                    raise item.stream_error or RuntimeError("scripted stream failure")
                event: dict[str, Any] = {"response": piece}
                if item.logprobs is not None:
                    event["logprobs"] = item.logprobs[number : number + 1]
                wire += encode_data(event)
                if item.piece_delay:
                    for chunk in _chunks(wire):
                        yield chunk
                    wire = b""
                    await asyncio.sleep(item.piece_delay)
            final: dict[str, Any] = {"response": "", "usage": usage}
            if item.tool_calls:
                final["tool_calls"] = item.tool_calls
            wire += encode_data(final) + DONE_FRAME
            for chunk in _chunks(wire):
                yield chunk
        finally:
            self.streams_closed += 1


def _chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _last_input(inputs: dict[str, Any]) -> str:
    if "prompt" in inputs:
        return str(inputs["prompt"])
    users = [m for m in inputs.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else json.dumps(inputs.get("messages"))
