"""The chunk encoder's fast path for text writes exactly what the general path writes."""

from __future__ import annotations

import json

import pytest

from llm_api.errors import OPENAI
from llm_api.services.generation import TextDelta
from llm_api.services.openai import ChunkEncoder
from llm_api.sse import encode_data

TEXTS = ["Hello", " wörld 👋", 'quote " and \\ backslash', "line\nbreak\ttab\x01", "", "\ud83d"]


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("text", TEXTS)
def test_a_text_chunk_after_the_first_is_the_general_frame(include_usage: bool, text: str) -> None:
    encoder = ChunkEncoder('model/"odd"-ü', include_usage=include_usage, family=OPENAI)
    first = encoder.encode(TextDelta("Hi"))
    assert json.loads(first.removeprefix(b"data: "))["choices"][0]["delta"]["role"] == "assistant"

    chunk = encoder.encode(TextDelta(text))

    expected = {
        "id": encoder.id,
        "object": "chat.completion.chunk",
        "created": encoder.created,
        "model": 'model/"odd"-ü',
        "service_tier": "default",
        "system_fingerprint": None,
        "choices": [
            {"index": 0, "delta": {"content": text}, "finish_reason": None, "logprobs": None}
        ],
    }
    if include_usage:
        expected["usage"] = None
    assert chunk == encode_data(expected)
    chunk.decode("utf-8")  # valid UTF-8 on the wire, a lone surrogate included
