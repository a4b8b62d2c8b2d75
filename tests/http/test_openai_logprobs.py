"""`logprobs` / `top_logprobs` on /v1/chat/completions (issue 15, item 4).

Before: both fields were silently ignored (extra fields), every answer said
``logprobs: null``, and Workers AI requests with them answered 200 without them. Now a
binding that declares the ``logprobs`` feature gets them as inputs and its entries come
back in OpenAI's shape (whole and per chunk); any other binding (Workers AI) is a 400
naming the field, before any model call.
"""

from __future__ import annotations

import pytest

from tests.support.scripted_ai import ScriptedAI
from tests.support.sse import sse_data


def entry(token: str, logprob: float, *alternatives: tuple[str, float]) -> dict:
    def item(text: str, value: float) -> dict:
        return {"token": text, "logprob": value, "bytes": list(text.encode())}

    return {**item(token, logprob), "top_logprobs": [item(*alt) for alt in alternatives]}


HELLO = entry("Hello", -0.25, ("Hello", -0.25), ("Hi", -1.5))
WORLD = entry(" wörld", -0.5, (" wörld", -0.5), (" there", -2.0))


@pytest.fixture
def ai() -> ScriptedAI:
    return ScriptedAI(features=frozenset({"logprobs"}))


def chat(client, **fields):
    payload = {"model": "llama-3.2-3b-instruct", **fields}
    payload.setdefault("messages", [{"role": "user", "content": "hi"}])
    return client.post("/v1/chat/completions", json=payload)


def test_logprobs_come_back_in_openais_shape_where_the_backend_gives_them(client, ai):
    ai.script(text="Hello wörld", logprobs=[HELLO, WORLD])
    response = chat(client, logprobs=True, top_logprobs=2)
    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["logprobs"] == {"content": [HELLO, WORLD], "refusal": None}
    assert ai.calls[0]["inputs"]["logprobs"] is True
    assert ai.calls[0]["inputs"]["top_logprobs"] == 2


def test_logprobs_alone_ask_for_no_alternatives(client, ai):
    chat(client, logprobs=True)
    assert (ai.calls[0]["inputs"]["logprobs"], ai.calls[0]["inputs"]["top_logprobs"]) == (True, 0)


def test_streamed_logprobs_ride_in_the_chunk_of_their_text(client, ai):
    ai.script(text="Hello wörld", logprobs=[HELLO, WORLD])
    response = chat(client, logprobs=True, top_logprobs=2, stream=True)
    assert response.status_code == 200
    chunks = [event for event in sse_data(response.text)[:-1] if event["choices"]]
    texts = [(c["choices"][0]["delta"].get("content"), c["choices"][0]["logprobs"]) for c in chunks]
    assert texts[:2] == [
        ("Hello ", {"content": [HELLO], "refusal": None}),
        ("wörld", {"content": [WORLD], "refusal": None}),
    ]
    assert texts[-1] == (None, None)  # the finish chunk


def test_a_request_without_logprobs_sends_no_logprobs_inputs(client, ai):
    response = chat(client)
    assert response.json()["choices"][0]["logprobs"] is None
    assert "logprobs" not in ai.calls[0]["inputs"]


def test_logprobs_a_backend_sends_unasked_are_not_shown(client, ai):
    for stream in (False, True):
        ai.script(text="Hello wörld", logprobs=[HELLO, WORLD])
        response = chat(client, stream=stream)
        events = sse_data(response.text)[:-1] if stream else [response.json()]
        assert all(c["choices"][0]["logprobs"] is None for c in events if c["choices"])


def test_logprobs_on_a_backend_without_them_is_a_400_naming_logprobs(client, ai):
    ai.features = frozenset()  # as Workers AI, binding or REST: no model returns them
    for stream in (False, True):
        response = chat(client, logprobs=True, top_logprobs=3, stream=stream)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "logprobs"
        assert error["type"] == "invalid_request_error"
        assert "scripted" in error["message"]
    assert ai.calls == []  # refused before any model call
    assert chat(client, logprobs=False).status_code == 200


def test_top_logprobs_without_logprobs_is_a_400(client, ai):
    response = chat(client, top_logprobs=2)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "top_logprobs"
    assert ai.calls == []


@pytest.mark.parametrize("top", [-1, 21])
def test_top_logprobs_outside_0_to_20_is_a_400(client, ai, top):
    response = chat(client, logprobs=True, top_logprobs=top)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "top_logprobs"


def test_malformed_logprobs_from_a_backend_are_a_502_not_a_500(client, ai):
    ai.script(text="Hello", logprobs=[{"token": "Hello", "logprob": 0.5, "bytes": None}])
    response = chat(client, logprobs=True)
    assert response.status_code == 502
    assert "log-probability" in response.json()["error"]["message"]


def test_a_tool_call_answer_has_no_logprobs(client, ai):
    tools = [{"type": "function", "function": {"name": "ping", "parameters": {}}}]
    ai.script(text="", tool_calls=[{"name": "ping", "arguments": {}}], logprobs=[])
    response = chat(client, model="llama-3.3-70b-instruct-fp8-fast", logprobs=True, tools=tools)
    assert response.json()["choices"][0]["logprobs"] is None
