"""Completions in OpenAI's ``chat.completion`` / ``chat.completion.chunk`` shapes.

Used by the OpenAI family (`/v1`) and the REST v1 family, whose seed documents the
same shape. Chunks are built as plain dicts and encoded directly: they are the hot
path of every stream.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from llm_api.errors import ApiError, Family
from llm_api.schemas.common import Usage
from llm_api.schemas.openai import ChatCompletion, Choice, ResponseMessage
from llm_api.services.generation import Completion, StreamEnd, StreamItem, TextDelta
from llm_api.sse import encode_data, error_frame, json_string


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Binding tool calls (arguments as objects) → OpenAI's (arguments as JSON strings)."""
    return [
        {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["arguments"], ensure_ascii=False),
            },
        }
        for call in calls
    ]


def completion_object(completion: Completion, model: str) -> dict[str, Any]:
    """A whole answer as its ``ChatCompletion`` model dumps it; the message's
    ``tool_calls`` appears only when there are calls (then ``content`` may be null)."""
    calls = openai_tool_calls(completion.tool_calls) if completion.tool_calls else None
    content = (completion.text or None) if calls else completion.text
    message = ResponseMessage(content=content, tool_calls=calls)
    body = ChatCompletion(
        id=new_completion_id(),
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=message, finish_reason=completion.finish_reason)],
        usage=Usage.model_validate(completion.usage),
    )
    absent = None if calls else {"choices": {0: {"message": {"tool_calls"}}}}
    return body.model_dump(exclude=absent)


class ChunkEncoder:
    """Turns stream items into ``chat.completion.chunk`` SSE frames for one response.

    Every chunk shares one id and ``created``; the first delta carries the role;
    ``finish_reason`` appears exactly once; with ``include_usage`` each chunk has
    ``usage: null`` and one extra last chunk has ``choices: []`` and the usage.
    """

    def __init__(self, model: str, *, include_usage: bool, family: Family) -> None:
        self.id = new_completion_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.family = family
        self._role_sent = False
        # A text chunk after the first is these two around the text: what `_frame` would
        # write, at a tenth of the cost (tests/test_chat_format.py checks they agree).
        self._text_head = (
            f'data: {{"id":{json_string(self.id)},"object":"chat.completion.chunk",'
            f'"created":{self.created},"model":{json_string(model)},'
            '"choices":[{"index":0,"delta":{"content":'
        ).encode()
        self._text_tail = (
            '},"finish_reason":null,"logprobs":null}]'
            + (',"usage":null' if include_usage else "")
            + "}\n\n"
        ).encode()

    def encode(self, item: StreamItem) -> bytes:
        if isinstance(item, TextDelta):
            if self._role_sent:
                try:
                    return self._text_head + json_string(item.text).encode() + self._text_tail
                except UnicodeEncodeError:  # a lone surrogate: encode_data escapes it
                    pass
            return self._frame({"content": item.text})
        return self._end(item)

    def encode_error(self, error: ApiError) -> bytes:
        return error_frame(self.family, error)

    def _end(self, end: StreamEnd) -> bytes:
        frames = b""
        if not self._role_sent:
            frames += self._frame({"content": ""})
        if end.tool_calls:
            deltas = [
                {"index": index, **call}
                for index, call in enumerate(openai_tool_calls(end.tool_calls))
            ]
            frames += self._frame({"tool_calls": deltas})
        frames += self._frame({}, finish_reason=end.finish_reason)
        if self.include_usage:
            frames += encode_data({**self._envelope(), "choices": [], "usage": end.usage})
        return frames

    def _frame(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        chunk = self._envelope()
        chunk["choices"] = [
            {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
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
        }
