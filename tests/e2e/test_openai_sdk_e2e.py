"""The official `openai` Python SDK against the real server and the embedded model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from llm_api.catalog import MODELS

TOOL_MODEL = "llama-3.3-70b-instruct-fp8-fast"  # supportsTools in the catalog
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def sdk(base_url: str, api_key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0) as client:
        yield client


def test_create(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="llama-3.2-3b-instruct",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=20,
        temperature=0,
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "@cf/meta/llama-3.2-3b-instruct"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens <= 20


def test_length_finish_reason(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="llama-3.2-3b-instruct",
        messages=[{"role": "user", "content": "Write a long essay about rivers."}],
        max_completion_tokens=5,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5


@pytest.mark.embedded_model
def test_stream_equals_create_at_temperature_zero(sdk: openai.OpenAI) -> None:
    args = {
        "model": "llama-3.2-3b-instruct",
        "messages": [{"role": "user", "content": "Name three fruits."}],
        "max_tokens": 30,
        "temperature": 0,
    }
    whole = sdk.chat.completions.create(**args).choices[0].message.content
    chunks = list(sdk.chat.completions.create(**args, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({chunk.id for chunk in chunks}) == 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason]
    assert len(finishes) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole


def test_stream_with_include_usage(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="llama-3.2-3b-instruct",
            messages=[{"role": "user", "content": "Count to five."}],
            max_tokens=20,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0


@pytest.mark.embedded_engine
@pytest.mark.parametrize(
    "tool_choice",
    ["required", {"type": "function", "function": {"name": "get_time"}}],
)
def test_forced_tool_calls_have_valid_json_arguments(sdk: openai.OpenAI, tool_choice) -> None:
    completion = sdk.chat.completions.create(
        model=TOOL_MODEL,
        messages=ASK_WEATHER,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=tool_choice,
        max_tokens=60,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_")
    if isinstance(tool_choice, dict):
        assert call.function.name == "get_time"
        assert isinstance(json.loads(call.function.arguments)["timezone"], str)
    else:
        assert call.function.name in ("get_weather", "get_time")
        assert isinstance(json.loads(call.function.arguments), dict)


def test_tool_choice_none_answers_in_text(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=TOOL_MODEL,
        messages=ASK_WEATHER,
        tools=[WEATHER_TOOL],
        tool_choice="none",
        max_tokens=20,
    )
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content


def test_tool_choice_auto_answers_with_a_call_or_text(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=TOOL_MODEL, messages=ASK_WEATHER, tools=[WEATHER_TOOL], max_tokens=60, temperature=0
    )
    message = completion.choices[0].message
    if message.tool_calls:
        assert completion.choices[0].finish_reason == "tool_calls"
        assert json.loads(message.tool_calls[0].function.arguments)
    else:
        assert message.content


@pytest.mark.embedded_engine
def test_streamed_tool_calls_join_into_valid_json(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=TOOL_MODEL,
        messages=ASK_WEATHER,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=60,
        temperature=0,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            if delta.function.name:
                call["name"] = delta.function.name
            call["arguments"] += delta.function.arguments or ""
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather"
    assert isinstance(json.loads(calls[0]["arguments"])["city"], str)


def test_stream_helper_accumulates_a_final_completion(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
        model="llama-3.2-3b-instruct",
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=200,
        # The helper refuses a final completion cut by max_tokens: stop at the first
        # sentence end, and sample greedily so the tiny model's answer is always the same.
        stop=[".", "!", "?", "\n"],
        temperature=0,
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content


def test_json_mode(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="llama-3.1-8b-instruct",
        messages=[{"role": "user", "content": "Give a JSON object with a color and a fruit."}],
        response_format={"type": "json_object"},
        max_tokens=60,
        temperature=0,
    )
    assert isinstance(json.loads(completion.choices[0].message.content), dict)


def test_json_schema_mode(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"word": {"type": "string"}, "letters": {"type": "integer"}},
        "required": ["word", "letters"],
    }
    completion = sdk.chat.completions.create(
        model="llama-3.1-8b-instruct",
        messages=[{"role": "user", "content": "Pick a word and count its letters."}],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": schema}},
        max_tokens=60,
        temperature=0,
    )
    answer = json.loads(completion.choices[0].message.content)
    assert isinstance(answer["word"], str) and isinstance(answer["letters"], int)


def test_models_list(sdk: openai.OpenAI) -> None:
    ids = [model.id for model in sdk.models.list()]
    assert ids[:6] == [model.id for model in MODELS]  # the seed's six first
    assert "@cf/openai/gpt-oss-120b" in ids[6:]
    assert sdk.models.retrieve("llama-3-8b-instruct").id == "@cf/meta/llama-3-8b-instruct"


def test_typed_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert not_found.value.code == "model_not_found"
    assert not_found.value.request_id
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(
            model="llama-3.2-3b-instruct", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert bad.value.param == "n"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("no-such-model")
