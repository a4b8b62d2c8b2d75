"""The official `openai` Python SDK (pinned in pyproject.toml) against Chat Completions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import openai
import pytest
from pydantic import BaseModel

from tests.e2e.clients.conftest import MODEL, one_request_a_minute_key
from tests.e2e.server import Server

ASK = [{"role": "user", "content": "Name two animals."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 12}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


class Weather(BaseModel):
    city: str


class Pick(BaseModel):
    colour: Literal["red", "green", "blue"]
    liked: bool


@pytest.fixture(scope="module")
def sdk(base_url: str, api_key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0) as client:
        yield client


def test_create(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL, messages=ASK, max_tokens=16, temperature=0
    )
    completion = raw.parse()
    assert raw.headers["x-request-id"] == completion._request_id
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert 0 < completion.usage.completion_tokens <= 16


def test_stream_matches_create(sdk: openai.OpenAI) -> None:
    args = {"model": MODEL, "messages": ASK, "max_tokens": 16, "temperature": 0}
    whole = sdk.chat.completions.create(**args).choices[0].message.content
    chunks = list(
        sdk.chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_forced_tool_call(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_streamed_forced_tool_call_accumulates(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[openai.pydantic_function_tool(Weather, name="get_weather")],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
        temperature=0,
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert isinstance(call.function.parsed_arguments, Weather)


def test_parse_with_a_pydantic_model(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "Pick a colour and say whether you like it."}],
        response_format=Pick,
        max_tokens=40,
        temperature=0,
    )
    message = completion.choices[0].message
    assert isinstance(message.parsed, Pick)
    assert message.refusal is None


def test_typed_errors(sdk: openai.OpenAI) -> None:
    ask = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        sdk.with_options(api_key="sk-not-a-key").chat.completions.create(model=MODEL, **ask)
    assert unauthorized.value.status_code == 401 and unauthorized.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.chat.completions.create(model="gpt-4o", **ask)
    assert not_found.value.code == "model_not_found" and not_found.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model=MODEL, n=2, **ask)
    assert bad.value.param == "n" and bad.value.request_id


def test_rate_limit_error(sdk: openai.OpenAI, server: Server | None) -> None:
    limited = sdk.with_options(api_key=one_request_a_minute_key(server))
    limited.models.list()
    with pytest.raises(openai.RateLimitError) as limited_out:
        limited.models.list()
    assert int(limited_out.value.response.headers["retry-after"]) > 0
