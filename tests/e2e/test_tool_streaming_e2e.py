"""Tool calls streamed as they are generated and answers cut by max_tokens (issue 15, items
1, 2 and 6), with the official `openai` SDK against the real server and the embedded model."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import BaseModel

TOOL_MODEL = "llama-3.3-70b-instruct-fp8-fast"  # supportsTools in the catalog
#: a call whose one argument is long, so that generating it takes most of the answer's time
NOTE_TOOL = {
    "type": "function",
    "function": {
        "name": "save_note",
        "description": "Save a note.",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 400, "maxLength": 480}},
            "required": ["text"],
        },
    },
}
SAVE = [{"role": "user", "content": "Save a note about the history of Paris."}]


@pytest.fixture(scope="module")
def sent(base_url: str, api_key: str) -> Iterator[tuple[openai.OpenAI, list[httpx.Request]]]:
    """An SDK client with the SDK's default retries, and every request it sent."""
    requests: list[httpx.Request] = []
    hooks = {"request": [requests.append]}
    with (
        httpx.Client(event_hooks=hooks, timeout=120) as http,
        openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, http_client=http) as client,
    ):
        yield client, requests


class Tip(BaseModel):
    tip: str
    why: str


def test_json_answer_cut_by_max_tokens_is_length_for_parse_and_never_retried(sent) -> None:
    client, requests = sent
    requests.clear()
    with pytest.raises(openai.LengthFinishReasonError) as raised:
        client.chat.completions.parse(
            model="llama-3.1-8b-instruct",
            messages=[{"role": "user", "content": "One tip for learning French, as JSON."}],
            response_format=Tip,
            max_tokens=5,
            temperature=0,
        )
    completion = raised.value.completion
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content  # the partial JSON, as generated
    assert completion.usage.completion_tokens == 5
    assert len(requests) == 1  # a 200: the SDK does not send the doomed request again


def test_forced_tool_call_cut_by_max_tokens_comes_back_under_tool_calls(sent) -> None:
    client, _ = sent
    completion = client.chat.completions.create(
        model=TOOL_MODEL,
        messages=SAVE,
        tools=[NOTE_TOOL],
        tool_choice="required",
        max_tokens=24,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert not choice.message.content  # never the call's JSON as text
    [call] = choice.message.tool_calls
    assert call.function.name == "save_note"
    assert call.function.arguments.startswith("{") and len(call.function.arguments) > 5


def test_streamed_tool_call_arrives_as_it_is_generated(sent) -> None:
    client, _ = sent
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=TOOL_MODEL,
        messages=SAVE,
        tools=[NOTE_TOOL],
        tool_choice="required",
        max_tokens=400,
        temperature=0,
        stream=True,
    )
    first_call = None
    pieces: list[str] = []
    with stream:
        for chunk in stream:
            for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                if first_call is None:
                    first_call = time.perf_counter() - started
                    assert delta.id and delta.type == "function"
                    assert (delta.function.name, delta.function.arguments) == ("save_note", "")
                pieces.append(delta.function.arguments or "")
    total = time.perf_counter() - started
    print(f"time to the first tool_calls delta {first_call:.2f} s of {total:.2f} s in all")
    assert first_call is not None and first_call < total / 2
    assert len(pieces) > 10  # the arguments in many pieces
    assert len(json.loads("".join(pieces))["text"]) >= 400


def test_sdk_stream_helper_sees_argument_deltas_and_the_whole_call(sent) -> None:
    client, _ = sent
    with client.chat.completions.stream(
        model=TOOL_MODEL,
        messages=SAVE,
        tools=[NOTE_TOOL],
        tool_choice="required",
        max_tokens=400,
        temperature=0,
    ) as stream:
        deltas = [
            event.arguments_delta
            for event in stream
            if event.type == "tool_calls.function.arguments.delta"
        ]
        final = stream.get_final_completion()
    assert len(deltas) > 10
    [call] = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "save_note" and call.function.arguments == "".join(deltas)
    assert len(json.loads(call.function.arguments)["text"]) >= 400


ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / ".bin" / "node"  # Node 22: the AI SDK needs it


def test_ai_sdk_stream_text_gets_tool_input_deltas(base_url: str, api_key: str) -> None:
    if not NODE.exists() or not (ROOT / "node_modules" / "@ai-sdk" / "openai-compatible").is_dir():
        pytest.skip("needs the AI SDK in node_modules (`npm ci`)")
    script = Path(__file__).parent / "node" / "ai_sdk_tool_stream.mjs"
    result = subprocess.run(
        [str(NODE), str(script), f"{base_url}/v1", api_key],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["kinds"][2:6] == [
        "tool-input-start",
        "tool-input-delta",
        "tool-input-end",
        "tool-call",
    ]
    assert out["deltas"] > 10  # the input as it was generated, not one delta at the end
    assert len(out["input"]["text"]) >= 400
