"""`langchain-openai` (pinned in pyproject.toml): ChatOpenAI with ``base_url`` on the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import openai
import pytest
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.e2e.clients.conftest import MODEL, one_request_a_minute_key
from tests.e2e.server import Server

ASK = "Name two animals."


class Pick(BaseModel):
    """A colour, and whether it is liked."""

    colour: Literal["red", "green", "blue"]
    liked: bool


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str = Field(max_length=12)


@pytest.fixture(scope="module")
def chat_for(base_url: str, api_key: str) -> Callable[..., ChatOpenAI]:
    def make(**overrides: Any) -> ChatOpenAI:
        fields = {"model": MODEL, "base_url": f"{base_url}/v1", "api_key": api_key,
                  "max_tokens": 16, "temperature": 0, "max_retries": 0, **overrides}  # fmt: skip
        return ChatOpenAI(**fields)

    return make


def test_invoke(chat_for: Callable[..., ChatOpenAI]) -> None:
    answer = chat_for().invoke(ASK)
    assert isinstance(answer, AIMessage) and answer.content
    assert answer.response_metadata["finish_reason"] in ("stop", "length")
    assert 0 < answer.usage_metadata["output_tokens"] <= 16


def test_stream_matches_invoke(chat_for: Callable[..., ChatOpenAI]) -> None:
    chat = chat_for(stream_usage=True)
    chunks = list(chat.stream(ASK))
    assert len(chunks) > 3
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.content == chat.invoke(ASK).content  # temperature 0
    assert whole.usage_metadata["output_tokens"] > 0


def test_forced_tool_call(chat_for: Callable[..., ChatOpenAI]) -> None:
    chat = chat_for(max_tokens=40).bind_tools([GetWeather], tool_choice="GetWeather")
    answer = chat.invoke("What is the weather in Paris?")
    (call,) = answer.tool_calls
    assert call["name"] == "GetWeather" and isinstance(call["args"]["city"], str)
    assert answer.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_with_structured_output(chat_for: Callable[..., ChatOpenAI], method: str) -> None:
    structured = chat_for(max_tokens=40).with_structured_output(Pick, method=method)
    assert isinstance(structured.invoke("Pick a colour and say whether you like it."), Pick)


def test_errors_are_the_openai_sdk_typed_errors(chat_for: Callable[..., ChatOpenAI]) -> None:
    with pytest.raises(openai.AuthenticationError):
        chat_for(api_key="sk-not-a-key").invoke("x")
    with pytest.raises(openai.NotFoundError) as not_found:
        chat_for(model="gpt-4o").invoke("x")
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        chat_for(n=2).invoke("x")
    assert bad.value.param == "n"


def test_rate_limit_error(chat_for: Callable[..., ChatOpenAI], server: Server | None) -> None:
    chat = chat_for(api_key=one_request_a_minute_key(server), max_tokens=1)
    chat.invoke("x")
    with pytest.raises(openai.RateLimitError):
        chat.invoke("x")
