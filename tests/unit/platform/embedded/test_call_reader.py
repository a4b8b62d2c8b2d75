"""Reading the embedded tools grammar's call as it is generated (no model needed)."""

from __future__ import annotations

import json

import pytest

from llm_api.platform.embedded.call_reader import CallReader
from llm_api.platform.embedded.request import shape_output

NAMES = frozenset({"get_weather", "get_time"})
#: calls as the tools grammar lets them be: single optional spaces, any JSON inside strings
CALLS = [
    '{"name": "get_weather", "arguments": {"city": "Rome"}}',
    '{ "name":"get_time","arguments":{ "tz": "a}b{\\"]c" , "n": [1, {"x": null}] } } ',
    '{"name": "get_time", "arguments": {}}',
]


def read(text: str, pieces: int) -> tuple[CallReader, list[dict]]:
    reader, fragments = CallReader(NAMES), []
    size = max(1, len(text) // pieces)
    for start in range(0, len(text), size):
        fragments += reader.feed(text[start : start + size])
    return reader, fragments


@pytest.mark.parametrize("text", CALLS)
@pytest.mark.parametrize("pieces", [1, 7, 1000])
def test_a_call_streams_its_name_first_then_exactly_its_arguments(text: str, pieces: int) -> None:
    reader, fragments = read(text, pieces)
    call = json.loads(text)
    assert fragments[0] == {
        "index": 0,
        "type": "function",
        "function": {"name": call["name"], "arguments": ""},
    }
    arguments = "".join(fragment["function"]["arguments"] for fragment in fragments)
    assert json.loads(arguments) == call["arguments"]  # nothing of the closing "}" after it
    assert reader.complete and reader.arguments == arguments


@pytest.mark.parametrize("text", CALLS)
def test_a_call_cut_anywhere_keeps_its_name_and_the_arguments_so_far(text: str) -> None:
    whole = read(text, 1)[0].arguments
    for end in range(1, len(text.rstrip()) - 1):  # short of the outer "}"
        response, calls, finish = shape_output(text[:end], "length", NAMES)
        assert response == "" and finish == "length"  # never the call's JSON as text
        if calls:
            [call] = calls
            assert call["name"] == json.loads(text)["name"] and whole.startswith(call["arguments"])
        else:  # cut before the name is one tool's: nothing to show
            assert end <= text.index("get_") + len("get_")


def test_a_cut_name_that_only_one_tool_fits_is_that_tool() -> None:
    reader = CallReader(NAMES)
    reader.feed('{"name": "get_w')
    assert reader.finish() == [
        {"index": 0, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    ]
    assert CallReader(NAMES).finish() == []  # "get_" fits both: no call to announce
    only = CallReader(frozenset({"ping"}))
    assert only.finish()[0]["function"]["name"] == "ping"


def test_a_complete_call_is_tool_calls_whatever_finish_was_reported() -> None:
    assert shape_output(CALLS[0], "length", NAMES) == (
        "",
        [{"name": "get_weather", "arguments": {"city": "Rome"}}],
        "tool_calls",
    )
    assert shape_output("Hello {", "length", NAMES) == ("Hello {", None, "length")  # text
