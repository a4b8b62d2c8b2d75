"""``DumpedJSON`` (its encoder built once, bench/README.md §4) writes what Starlette's
``JSONResponse`` writes, and refuses what it refuses."""

from __future__ import annotations

import math

import pytest
from starlette.responses import JSONResponse

from llm_api.http.streaming import DumpedJSON, answer

BODIES = [
    {"id": "chatcmpl-1", "choices": [{"message": {"content": "Bonjour ! é 漢字 🙂"}}]},
    {"nested": [1, 2.5, None, True, {"a": []}], "text": 'quote " and \\ and \n'},
    [],
]


@pytest.mark.parametrize("body", BODIES)
def test_dumped_json_writes_the_bytes_json_response_writes(body) -> None:
    ours, theirs = DumpedJSON(body, headers={"x-a": "1"}), JSONResponse(body, headers={"x-a": "1"})
    assert ours.body == theirs.body
    assert ours.headers.items() == theirs.headers.items()


def test_dumped_json_refuses_nan_as_json_response_does() -> None:
    for response in (JSONResponse, DumpedJSON):
        with pytest.raises(ValueError):
            response({"x": math.nan})


def test_a_dumped_answer_is_sent_as_dumped_json() -> None:
    assert isinstance(answer({"a": 1}, {}), DumpedJSON)
