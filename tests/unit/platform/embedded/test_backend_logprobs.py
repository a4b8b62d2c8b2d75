"""The embedded model's ``logprobs``, against the real SmolLM2 model (issue 15, item 4).

Before: the inputs were ignored and no result carried log-probabilities. Now they are read
from the last logits after each sampled token (``embedded.logprobs``), without
llama-cpp-python's ``logits_all`` (the logits of every position), and they agree with
what llama-cpp-python's own ``create_completion(logprobs=...)`` computes with it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_api.platform.embedded.backend import EmbeddedBackend
from llm_api.platform.embedded.loading import default_model_path, llama_build

pytestmark = pytest.mark.llama  # loads llama.cpp: `make test` runs it, `make test-fast` skips it

pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python ([local])")

MODEL = "@cf/meta/llama-3.2-3b-instruct"
QUESTION = "Write one sentence about cats."


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend(n_threads=1)  # one thread: see test_backend.py
    asyncio.run(backend.load())
    yield backend
    asyncio.run(backend.aclose())


def ask(text: str = QUESTION, **inputs: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "temperature": 0, **inputs}


def completed(backend: EmbeddedBackend, inputs: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(backend.run(MODEL, inputs))


def streamed(backend: EmbeddedBackend, inputs: dict[str, Any]) -> list[Any]:
    async def go() -> list[Any]:
        frames = [frame async for frame in await backend.run(MODEL, {**inputs, "stream": True})]
        return [json.loads(frame[6:-2]) for frame in frames[:-1]]

    return asyncio.run(go())


def test_logprobs_spell_the_answer_and_the_greedy_token_is_the_top_one(backend) -> None:
    result = completed(backend, ask(max_tokens=16, logprobs=True, top_logprobs=3))
    entries = result["logprobs"]
    assert len(entries) == result["usage"]["completion_tokens"] == 16
    assert "".join(entry["token"] for entry in entries) == result["response"]
    assert b"".join(bytes(entry["bytes"]) for entry in entries).decode() == result["response"]
    for entry in entries:
        top = entry["top_logprobs"]
        assert len(top) == 3
        assert all(alt["logprob"] <= 0 for alt in [entry, *top])
        values = [alt["logprob"] for alt in top]
        assert values == sorted(values, reverse=True)
        assert entry["logprob"] == top[0]["logprob"]  # temperature 0: the most likely one
        assert entry["token"] == top[0]["token"]


def test_logprobs_agree_with_llama_cpp_pythons_own_with_logits_all(backend) -> None:
    import llama_cpp

    inputs = ask(max_tokens=6, logprobs=True, top_logprobs=2)
    ours = completed(backend, inputs)["logprobs"]
    tokens = backend._prepare(inputs).tokens
    with llama_build(use_extra_bufts=False):
        reference = llama_cpp.Llama(
            model_path=str(default_model_path()),
            n_ctx=512,
            n_threads=1,
            logits_all=True,
            verbose=False,
        )
    try:
        theirs = reference.create_completion(tokens, max_tokens=6, temperature=0, logprobs=2)
    finally:
        reference.close()
    logprobs = theirs["choices"][0]["logprobs"]
    assert [entry["token"] for entry in ours] == logprobs["tokens"]
    assert [entry["logprob"] for entry in ours] == pytest.approx(
        logprobs["token_logprobs"], abs=0.02
    )
    for entry, top in zip(ours, logprobs["top_logprobs"], strict=True):
        assert {alt["token"] for alt in entry["top_logprobs"]} <= set(top)


def test_streamed_logprobs_are_the_whole_ones_each_before_its_text(backend) -> None:
    inputs = ask(max_tokens=12, logprobs=True, top_logprobs=1)
    whole = completed(backend, inputs)
    events = streamed(backend, inputs)
    scored = [entry for event in events for entry in event.get("logprobs", [])]
    assert scored == whole["logprobs"]
    for event, after in itertools.pairwise(events):
        if "logprobs" in event:  # an event of its own, and its tokens' text comes next
            assert event["response"] == "" and after["response"] and "logprobs" not in after
    assert "".join(event["response"] for event in events) == whole["response"]


def test_the_tokens_of_a_stop_sequence_have_no_logprobs(backend) -> None:
    full = completed(backend, ask("Count from 1 to 10, separated by commas.", max_tokens=40))
    assert "4" in full["response"]
    inputs = ask("Count from 1 to 10, separated by commas.", max_tokens=40, stop=["4"])
    cut = completed(backend, {**inputs, "logprobs": True})
    assert "".join(entry["token"] for entry in cut["logprobs"]) == cut["response"]


def test_no_logprobs_unless_asked_and_zero_cached_tokens(backend) -> None:
    result = completed(backend, ask(max_tokens=4))
    assert "logprobs" not in result
    assert result["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    events = streamed(backend, ask(max_tokens=4))
    assert all("logprobs" not in event for event in events)
