"""``logprobs`` and the smaller wire fields through the official `openai` Python SDK (issue 15).

Against the embedded model the SDK parses token log-probabilities, whole, streamed and
through its stream helper; against Workers AI (``LLM_API_E2E_BASE_URL`` pointing at a
Worker) the same request is a ``BadRequestError`` naming ``logprobs``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

MODEL = "llama-3.2-3b-instruct"
ASK = [{"role": "user", "content": "Write one sentence about the sea."}]
TOP = 3


@pytest.fixture(scope="module")
def sdk(base_url: str, api_key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def gives_logprobs(base_url: str) -> bool:
    """Whether the server's backend returns them: the embedded model does, Workers AI not."""
    engine = httpx.get(f"{base_url}/health", timeout=30).json()["backend"]
    return not engine.startswith("workers-ai")


def check_entries(entries: list, content: str) -> None:
    assert entries, "no logprobs"
    assert "".join(entry.token for entry in entries) == content
    for entry in entries:
        top = entry.top_logprobs
        assert len(top) == TOP
        assert entry.logprob <= 0 and all(alt.logprob <= 0 for alt in top)
        assert [alt.logprob for alt in top] == sorted((alt.logprob for alt in top), reverse=True)
        # temperature 0 samples the most likely token
        assert (entry.token, entry.logprob) == (top[0].token, top[0].logprob)
        assert bytes(entry.bytes).decode("utf-8", errors="replace") == entry.token


def create(sdk: openai.OpenAI, **fields):
    return sdk.chat.completions.create(
        **{"model": MODEL, "messages": ASK, "max_tokens": 16, "temperature": 0, **fields}
    )


def test_the_sdk_parses_logprobs_of_a_whole_answer(sdk, gives_logprobs) -> None:
    if not gives_logprobs:
        with pytest.raises(openai.BadRequestError) as refused:
            create(sdk, logprobs=True, top_logprobs=TOP)
        assert refused.value.param == "logprobs"
        return
    completion = create(sdk, logprobs=True, top_logprobs=TOP)
    choice = completion.choices[0]
    check_entries(choice.logprobs.content, choice.message.content)
    assert choice.logprobs.refusal is None


def test_the_sdk_parses_streamed_logprobs_chunk_by_chunk(sdk, gives_logprobs) -> None:
    if not gives_logprobs:
        pytest.skip("the backend returns no logprobs (the whole-answer test checks its 400)")
    whole = create(sdk, logprobs=True, top_logprobs=TOP).choices[0]
    text, entries = "", []
    for chunk in create(sdk, logprobs=True, top_logprobs=TOP, stream=True):
        assert chunk.service_tier == "default" and chunk.system_fingerprint is None
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        text += choice.delta.content or ""
        if choice.logprobs is not None:
            assert choice.delta.content  # each chunk's entries come with its text
            entries += choice.logprobs.content
    check_entries(entries, text)
    assert text == whole.message.content
    assert [e.model_dump() for e in entries] == [e.model_dump() for e in whole.logprobs.content]


def test_the_sdk_stream_helper_gathers_the_logprobs(sdk, gives_logprobs) -> None:
    if not gives_logprobs:
        pytest.skip("the backend returns no logprobs")
    fields = {"model": MODEL, "messages": ASK, "max_tokens": 16, "temperature": 0}
    with sdk.chat.completions.stream(**fields, logprobs=True, top_logprobs=TOP) as stream:
        done = [event for event in stream if event.type == "logprobs.content.done"]
        snapshot = stream.current_completion_snapshot  # (its final parse refuses "length")
    [gathered] = done
    check_entries(gathered.content, snapshot.choices[0].message.content)
    assert snapshot.choices[0].logprobs.content == gathered.content


def test_the_sdk_reads_the_new_answer_fields(sdk, gives_logprobs) -> None:
    completion = create(sdk, service_tier="auto")
    assert completion.system_fingerprint is None
    assert completion.service_tier == "default"
    assert completion.choices[0].message.refusal is None
    assert completion.choices[0].logprobs is None  # not asked
    if gives_logprobs:  # the embedded model knows it served nothing from a prompt cache
        assert completion.usage.prompt_tokens_details.cached_tokens == 0


def test_the_sdk_sees_openais_codes_and_places(sdk) -> None:
    with pytest.raises(openai.BadRequestError) as hot:
        create(sdk, temperature=5)
    assert (hot.value.code, hot.value.param) == ("decimal_above_max_value", "temperature")
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    parts = [{"type": "text", "text": "What is this?"}, image]
    with pytest.raises(openai.BadRequestError) as seen:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": parts}])
    assert seen.value.param == "messages[0].content[1]"
    assert "takes text only" in seen.value.message
