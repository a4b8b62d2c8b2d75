"""Token log-probabilities through the binding protocol (issue 15, item 4): one reader for
the binding's ``logprobs`` list and OpenAI's per-choice ``{"content": [...]}``, whole and
streamed; the backends that declare them, and those that do not.

Before: ``run_result`` and ``parse_event`` dropped every upstream's logprobs.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from llm_api.binding.events import parse_event, run_result
from llm_api.binding.logprobs import MAX_TOP_LOGPROBS, token_logprobs
from llm_api.binding.protocol import LOGPROBS, features_of
from llm_api.errors import BackendError
from llm_api.platform.remote.openai import OpenAICompatibleBackend, chat_request
from llm_api.platform.remote.workers_ai import WorkersAIRestBackend
from tests.support.workers_fake import installed

TOP = {"token": "Hi", "logprob": -1.5, "bytes": [72, 105]}
ENTRY = {
    "token": "Hello",
    "logprob": -0.25,
    "bytes": [72, 101, 108, 108, 111],
    "top_logprobs": [TOP],
}


def completion(logprobs: Any) -> dict[str, Any]:
    choice = {"message": {"content": "Hello"}, "finish_reason": "stop", "logprobs": logprobs}
    return {"object": "chat.completion", "choices": [choice]}


def test_a_chat_completions_logprobs_reach_the_binding_result():
    result = run_result(completion({"content": [ENTRY], "refusal": None}))
    assert result["logprobs"] == [ENTRY]
    assert run_result(result)["logprobs"] == [ENTRY]  # idempotent, as run_result is


def test_a_result_without_logprobs_has_none():
    assert "logprobs" not in run_result(completion(None))
    assert "logprobs" not in run_result({"response": "Hello"})


def test_a_chunks_logprobs_reach_the_stream_event():
    chunk = {
        "object": "chat.completion.chunk",
        "choices": [{"delta": {"content": "Hello"}, "logprobs": {"content": [ENTRY]}}],
    }
    event = parse_event(json.dumps(chunk))
    assert (event.text, event.logprobs) == ("Hello", [ENTRY])


def test_a_binding_events_logprobs_are_read():
    event = parse_event(json.dumps({"response": "", "logprobs": [ENTRY]}))
    assert event.logprobs == [ENTRY] and event.error is None


@pytest.mark.parametrize(
    "bad",
    [
        "lots",
        [5],
        [{"token": 5, "logprob": -1.0, "bytes": None}],
        [{"token": "a", "logprob": 0.5, "bytes": None}],  # a probability above 1
        [{"token": "a", "logprob": float("nan"), "bytes": None}],
        [{"token": "a", "logprob": True, "bytes": None}],
        [{"token": "a", "logprob": -1.0, "bytes": [300]}],
        [{"token": "a", "logprob": -1.0, "bytes": None, "top_logprobs": "many"}],
    ],
)
def test_malformed_logprobs_are_the_upstreams_fault(bad: Any):
    with pytest.raises(BackendError):
        token_logprobs(bad)
    assert parse_event(json.dumps({"response": "x", "logprobs": bad})).error


def test_a_logprob_rounded_just_above_zero_is_a_certain_token():
    [read] = token_logprobs([{"token": "a", "logprob": 3e-7, "bytes": None}])
    assert read["logprob"] == 0.0


def test_more_alternatives_than_openai_allows_are_cut():
    entry = {**ENTRY, "top_logprobs": [TOP] * (MAX_TOP_LOGPROBS + 5)}
    [read] = token_logprobs([entry])
    assert len(read["top_logprobs"]) == MAX_TOP_LOGPROBS


def test_the_openai_compatible_backend_declares_and_passes_logprobs():
    backend = OpenAICompatibleBackend("http://upstream/v1")
    assert LOGPROBS in features_of(backend)
    body = chat_request("m", {"prompt": "hi", "logprobs": True, "top_logprobs": 3})
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)


def test_workers_ai_backends_declare_no_logprobs():
    assert features_of(WorkersAIRestBackend("acct", "token")) == frozenset()
    with installed():  # the Worker's env.AI, through the fake JS surface
        provider = importlib.import_module("llm_api.platform.workers.provider")
        assert features_of(provider.WorkersAIBinding(object())) == frozenset()
