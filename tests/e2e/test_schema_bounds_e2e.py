"""Structured output obeys the schema or is refused, over HTTP (client-compatibility finding).

Before: the embedded server answered a strict "score from 1 to 5" schema with
``{"score": 100}`` (llama-cpp-python's converter dropped ``minimum``/``maximum``), and
every other constraint its grammar could not keep (``multipleOf``, ``format: uri``,
...) was dropped without a word. Now bounds are kept, and a constraint that cannot be is
a 400 in the family's envelope naming the keyword and its path.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

OPENAI_MODEL = "llama-3.2-3b-instruct"
TOOLS_MODEL = "llama-4-scout-17b-16e-instruct"  # supportsTools in the catalog
SCORE = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["score"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "Rate this film from 1 to 100, 100 is best."}]


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "r", "strict": True, "schema": schema}}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_strict_score_1_to_5_comes_back_within_its_bounds(http: httpx.Client, seed: int) -> None:
    body = {
        "model": OPENAI_MODEL,
        "messages": MESSAGES,
        "temperature": 1.5,
        "seed": seed,
        "max_tokens": 24,
        "response_format": response_format(SCORE),
    }
    response = http.post("/v1/chat/completions", json=body)

    assert response.status_code == 200, response.text
    answer = json.loads(response.json()["choices"][0]["message"]["content"])
    assert isinstance(answer["score"], int) and 1 <= answer["score"] <= 5, answer


def test_constraint_the_grammar_cannot_keep_is_a_400_naming_its_path(http: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "integer", "multipleOf": 5}}}
    body = {"model": OPENAI_MODEL, "messages": MESSAGES, "response_format": response_format(schema)}
    openai = http.post("/v1/chat/completions", json=body)

    assert openai.status_code == 400, openai.text
    error = openai.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "response_format"
    assert "response_format.json_schema.schema.properties.score.multipleOf" in error["message"]

    native = http.post(
        "/api/llm/chat/completions",
        json={"messages": MESSAGES, "max_tokens": 4, "response_format": response_format(schema)},
    )
    assert native.status_code == 400, native.text
    assert "properties.score.multipleOf" in native.json()["error"]


def test_tool_parameter_the_grammar_cannot_keep_is_a_400(http: httpx.Client) -> None:
    parameters = {"type": "object", "properties": {"to": {"type": "string", "format": "uri"}}}
    tool = {"type": "function", "function": {"name": "mail", "parameters": parameters}}
    body = {"model": TOOLS_MODEL, "messages": MESSAGES, "tools": [tool], "tool_choice": "required"}
    response = http.post("/v1/chat/completions", json=body)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "tools"
    assert "function 'mail': parameters.properties.to.format" in error["message"]
