"""A malformed or oversized upstream answer, through the app, in every family (issue 12).

Findings 2 and 10: the upstream's fault is a 502 in the family's envelope before the first
byte, and one in-band error frame then ``data: [DONE]`` after it — never a 500, never a
stream that stops without its end. The answers come from the scripted binding
(tests/scripted_ai.py), exactly as an ``env.AI`` or a REST backend would hand them over.
"""

from __future__ import annotations

from typing import Any

import pytest

from llm_api.sse import encode_data
from tests.support.sse import sse_data
from tests.support.upstream_faults import MODEL, ROUTES, Fault, Route, check_answer

#: a 502 everywhere, not retryable, no Retry-After
MALFORMED = Fault(
    "malformed", None, 502, 502, False, False, "server_error", "SERVICE_ERROR", "backend_error"
)

MAX_EVENT_BYTES = 1 << 20  # llm_api.sse's default (a literal, to run against old code)

RESULTS = {
    "tool_calls not a list": {"response": "x", "tool_calls": 5},
    "no response at all": {"message": "str"},
    "a result that is a list": ["x"],
    "a tool call that is a number": {"response": "", "tool_calls": [7]},
}
EVENTS = {
    "delta is a string": b'data: {"choices":[{"delta":"x"}]}\n\n',
    "tool_calls not a list": b'data: {"choices":[{"delta":{"tool_calls":5}}]}\n\n',
    "content is a number": b'data: {"choices":[{"delta":{"content":7}}]}\n\n',
    "binding tool_calls not a list": b'data: {"response":"x","tool_calls":3}\n\n',
    "not JSON": b"data: {oops\n\n",
    # well-formed but over the cap: a valid token frame of 1 MiB...
    "an event over the cap": b'data: {"response":"' + b"x" * MAX_EVENT_BYTES + b'"}\n\n',
    # ...and a keep-alive comment whose newline never comes (it swallows what follows)
    "a line that never ends": b": " + b"x" * MAX_EVENT_BYTES,
}
DONE = b"data: [DONE]\n\n"


def post(client: Any, route: Route, *, stream: bool) -> Any:
    body: dict[str, Any] = {"model": MODEL, "stream": stream}
    if route.field == "prompt":
        body["prompt"] = "hello there"
    else:
        body["messages"] = [{"role": "user", "content": "hello there"}]
    return client.post(route.path, json=body)


def check_error_frame(route: Route, frame: Any) -> None:
    """One in-band error event, in the family's envelope."""
    if route.family == "native":
        assert set(frame) == {"error"} and isinstance(frame["error"], str) and frame["error"]
        assert not frame["error"].startswith("Internal error"), frame  # ours, not a 500
    elif route.family == "v1":
        assert frame["error"]["code"] == "SERVICE_ERROR" and frame["error"]["message"]
    else:
        assert frame["error"]["code"] == "backend_error"
        assert frame["error"]["type"] == "server_error" and frame["error"]["message"]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
@pytest.mark.parametrize("case", RESULTS)
def test_a_malformed_result_is_a_502_in_the_family_envelope(client, ai, route, case) -> None:
    ai.script(raw_result=RESULTS[case])
    response = post(client, route, stream=False)
    check_answer(MALFORMED, route, response.status_code, response.headers, response.json(), [])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
@pytest.mark.parametrize("case", EVENTS)
def test_a_malformed_first_stream_event_is_a_502_in_the_family_envelope(
    client, ai, route, case
) -> None:
    ai.script(raw_events=[EVENTS[case], DONE])
    response = post(client, route, stream=True)
    check_answer(MALFORMED, route, response.status_code, response.headers, response.json(), [])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
@pytest.mark.parametrize("case", EVENTS)
def test_a_malformed_event_mid_stream_ends_it_with_an_error_frame_and_done(
    client, ai, route, case
) -> None:
    ai.script(raw_events=[encode_data({"response": "Hello"}), EVENTS[case], DONE])
    response = post(client, route, stream=True)
    assert response.status_code == 200
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    check_error_frame(route, events[-2])
    texts = [event.get("response") or _delta(event) for event in events[:-2]]
    assert "".join(text for text in texts if text) == "Hello"  # what came before stays


def _delta(event: dict[str, Any]) -> str | None:
    choices = event.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content")


def test_a_lone_surrogate_in_a_whole_answer_is_replaced_not_a_500(client, ai) -> None:
    # JSON may carry "\ud83d" alone; UTF-8 cannot: the whole answer used to fail to encode
    for route in ROUTES:
        ai.script(raw_result={"response": "a\ud83db"})
        response = post(client, route, stream=False)
        assert response.status_code == 200, route.path
        assert "a\ufffdb" in response.text
