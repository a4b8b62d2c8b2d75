"""Workers AI inputs per catalog ``io_shape`` (binding.workers_ai) and the readers of both
shapes (binding.events), from the documented fixtures (issue 14, items 4 and 5)."""

from __future__ import annotations

import pytest

from llm_api.binding.events import parse_event, run_result
from llm_api.binding.workers_ai import model_inputs, workers_ai_inputs
from llm_api.catalog import io_shape_of, resolve_model
from llm_api.services.generation import reasoning_inputs
from tests.support.shape_fixtures import stream_bytes, whole

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
INPUTS = {
    "messages": [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
    ],
    "max_tokens": 100,
    "top_k": 5,
    "tools": [TOOL],
    "tool_choice": "required",
    "response_format": {"type": "json_schema", "json_schema": {"type": "object"}},
    "reasoning_effort": "low",
    "chat_template_kwargs": {"enable_thinking": False},
}


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        ("@cf/zai-org/glm-4.7-flash", "chat_completions"),
        ("@cf/google/gemma-4-26b-a4b-it", "chat_completions"),
        ("@cf/moonshotai/kimi-k2.6", "chat_completions"),
        ("@cf/openai/gpt-oss-120b", "chat_completions"),
        ("@cf/qwen/qwen3-30b-a3b-fp8", "legacy"),
        ("@cf/mistralai/mistral-small-3.1-24b-instruct", "legacy"),
        ("@cf/meta/llama-4-scout-17b-16e-instruct", "legacy"),
        ("@cf/someone/new-model-9b", "chat_completions"),  # as the merged view infers it
    ],
)
def test_the_shape_is_the_catalogs(model, shape):
    assert io_shape_of(model) == shape


def test_chat_completions_inputs_follow_the_openai_schema():
    body = workers_ai_inputs(INPUTS, "chat_completions")
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert "top_k" not in body
    assert body["tools"] == [TOOL]
    assert body["tool_choice"] == "required"  # the shape has it: passed as given
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    assert body["reasoning_effort"] == "low"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_a_prompt_goes_as_messages_and_a_stream_asks_for_usage():
    body = workers_ai_inputs({"prompt": "hi", "stream": True}, "chat_completions")
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_legacy_inputs_keep_their_names_and_drop_reasoning_fields():
    body = workers_ai_inputs(INPUTS, "legacy")
    assert body["max_tokens"] == 100 and "max_completion_tokens" not in body
    assert "reasoning_effort" not in body and "chat_template_kwargs" not in body
    assert "tool_choice" not in body  # emulated: Workers AI's legacy models have none


@pytest.mark.parametrize("shape", ["legacy", "chat_completions"])
def test_json_mode_is_never_streamed(shape):
    body = workers_ai_inputs(
        {"prompt": "x", "stream": True, "response_format": {"type": "json_object"}}, shape
    )
    assert "stream" not in body and "stream_options" not in body


@pytest.mark.parametrize(
    ("model", "effort", "quiet", "expected"),
    [
        ("glm-4.7-flash", "high", False, {"reasoning_effort": "high"}),
        ("glm-4.7-flash", None, True, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("glm-4.7-flash", "none", False, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("kimi-k2.6", None, True, {"chat_template_kwargs": {"thinking": False}}),
        ("gpt-oss-120b", None, True, {"reasoning_effort": "low"}),  # mandatory: low at most
        ("gpt-oss-120b", "minimal", False, {"reasoning_effort": "low"}),
        ("gemma-4-26b-a4b-it", None, True, {}),  # no documented switch
        ("glm-4.7-flash", None, False, {}),  # the model's default
        ("llama-4-scout-17b-16e-instruct", "high", True, {}),  # not a reasoning model
    ],
)
def test_structured_jobs_turn_thinking_off_or_low_where_the_model_allows(
    model, effort, quiet, expected
):
    assert reasoning_inputs(resolve_model(model), effort, quiet=quiet) == expected


def test_reasoning_is_read_apart_from_the_answer():
    glm = run_result(whole("chat-whole-glm-text"))
    assert glm["response"] == "Bonjour ! Comment vas-tu ?"
    assert glm["reasoning"] == "A short French greeting is enough."
    assert glm["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 19,
        "total_tokens": 44,
        "cached_tokens": 0,
        "reasoning_tokens": 9,
    }
    kimi = run_result(whole("chat-whole-kimi-reasoning"))
    assert (kimi["response"], kimi["reasoning"]) == (
        "The answer is 42",
        "Let me think step by step",
    )
    assert kimi["usage"]["cached_tokens"] == 1024


def test_implausible_usage_details_are_dropped():
    answer = whole("chat-whole-glm-text")
    answer["usage"]["prompt_tokens_details"]["cached_tokens"] = 999  # more than the prompt
    answer["usage"]["completion_tokens_details"]["reasoning_tokens"] = "9"
    assert set(run_result(answer)["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    }


def test_chunks_carry_reasoning_apart_and_finish_on_the_usage_chunk():
    frames = [f for f in stream_bytes("chat-stream-text").decode().split("\n\n") if f]
    events = [parse_event(frame.removeprefix("data: ")) for frame in frames]
    assert events[-1] is None  # [DONE]
    assert "".join(e.text for e in events[:-1]) == "Bonjour !"
    assert "".join(e.reasoning for e in events[:-1]) == "Okay, the user wants a greeting."
    assert [e.finish_reason for e in events[:-1] if e.finish_reason] == ["stop"]
    assert events[-2].usage["reasoning_tokens"] == 6  # the final choices: [] chunk


def test_a_responses_answer_is_read_as_its_parts():
    result = run_result(whole("responses-whole-gptoss"))
    assert result["response"] == "Bonjour ! Comment ça va ?"
    assert result["reasoning"].startswith("User asks")
    assert result["usage"] == {"prompt_tokens": 74, "completion_tokens": 31, "total_tokens": 105}
    call = run_result(whole("responses-whole-gptoss-function-call"))["tool_calls"][0]
    assert call == {"name": "get_weather", "arguments": '{"city":"Paris"}', "id": "call_9f8e7d6c5"}


def test_reading_a_result_again_keeps_its_reasoning():
    once = run_result(whole("chat-whole-glm-text"))
    assert run_result(once) == once


def test_mistral_small_takes_its_json_schema_as_guided_json():
    inputs = {
        "prompt": "x",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"type": "object", "required": ["a"]},
        },
    }
    body = model_inputs("@cf/mistralai/mistral-small-3.1-24b-instruct", inputs)
    assert body == {"prompt": "x", "guided_json": {"type": "object", "required": ["a"]}}
    assert model_inputs("@cf/meta/llama-4-scout-17b-16e-instruct", inputs) == inputs


def test_a_detail_of_an_estimated_count_is_dropped_with_it():
    # the merge's one rule (i14-errors kept cached tokens only of a trusted prompt count):
    # a detail is kept only as a part of the reported count it details
    from llm_api.binding.answers import counted_usage

    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 5000,  # over 2 context windows: replaced by an estimate
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    usage, estimated = counted_usage(
        raw, context_window=1000, prompt_chars=40, text="hello", tool_calls=[]
    )
    assert estimated and usage["cached_tokens"] == 4 and "reasoning_tokens" not in usage
