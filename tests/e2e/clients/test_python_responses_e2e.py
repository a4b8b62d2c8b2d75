"""The official `openai` Python SDK's Responses API against the real server and the
embedded model: create, stream, parse, and a function-tool round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from pydantic import BaseModel

TEXT_MODEL = "llama-3.2-3b-instruct"
TOOL_MODEL = "llama-3.3-70b-instruct-fp8-fast"  # supportsTools in the catalog
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
SHORT = {"model": TEXT_MODEL, "max_output_tokens": 24, "temperature": 0}
HELLO = "Reply with just the word: hello"


class City(BaseModel):
    name: str
    country: str


@pytest.fixture(scope="module")
def sdk(base_url: str, api_key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0) as client:
        yield client


def test_create(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(input=HELLO, instructions="Be brief.", **SHORT)
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.model == "@cf/meta/llama-3.2-3b-instruct"
    assert response.status == "completed" and response.output_text.strip()
    usage = response.usage
    assert usage is not None and 0 < usage.output_tokens <= 24
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_stream_equals_create_at_temperature_zero(sdk: openai.OpenAI) -> None:
    whole = sdk.responses.create(input=HELLO, **SHORT).output_text
    with sdk.responses.stream(input=HELLO, **SHORT) as stream:
        events = list(stream)
        final = stream.get_final_response()
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text == whole
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"


def test_parse_with_a_pydantic_model(sdk: openai.OpenAI) -> None:
    parsed = sdk.responses.parse(
        model=TEXT_MODEL,
        input="The capital of France, as JSON with its name and country.",
        text_format=City,
        max_output_tokens=60,
        temperature=0,
    )
    assert isinstance(parsed.output_parsed, City)
    assert parsed.output_parsed.name


def test_a_conversation_is_stored_continued_retrieved_and_deleted(sdk: openai.OpenAI) -> None:
    """No tools: runs on every host (on a Worker the records live in the key's Durable Object)."""
    first = sdk.responses.create(input="My name is Ada. Say hello.", **SHORT)
    second = sdk.responses.create(input="What is my name?", previous_response_id=first.id, **SHORT)
    assert second.previous_response_id == first.id and second.output_text.strip()
    assert sdk.responses.retrieve(first.id).output_text == first.output_text
    sdk.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):  # a deleted response cannot be continued
        sdk.responses.create(input="again", previous_response_id=first.id, **SHORT)
    kept = sdk.responses.retrieve(second.id)  # the continuation is its own record
    assert kept.output_text == second.output_text


@pytest.mark.embedded_engine  # a forced tool_choice: the embedded grammar guarantees the call
def test_function_tool_round_trip_with_previous_response_id(sdk: openai.OpenAI) -> None:
    asked = sdk.responses.create(
        model=TOOL_MODEL,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=40,
        temperature=0,
    )
    [call] = [item for item in asked.output if item.type == "function_call"]
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments)["city"], str)
    answered = sdk.responses.create(
        model=TOOL_MODEL,
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}],
        tools=[WEATHER],
        tool_choice="none",
        max_output_tokens=30,
        temperature=0,
    )
    assert answered.previous_response_id == asked.id and answered.output_text.strip()
    assert sdk.responses.retrieve(answered.id).output_text == answered.output_text
    sdk.responses.delete(answered.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(answered.id)


def test_typed_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(input="x", extra_body={"background": True}, **SHORT)
    assert refused.value.param == "background"
    with pytest.raises(openai.NotFoundError):
        sdk.responses.create(input="x", previous_response_id="resp_" + "0" * 32, **SHORT)
