"""A tool that declares no parameters has an empty parameter list (issue 15, item 3)."""

from __future__ import annotations

import json

import pytest

from llm_api.platform.embedded.grammar import parse_tools


@pytest.mark.parametrize("declared", [{}, {"parameters": None}, {"parameters": {}}])
def test_tool_without_parameters_gets_an_empty_parameter_list(declared: dict) -> None:
    [tool] = parse_tools([{"type": "function", "function": {"name": "ping", **declared}}])
    # not {"type": "object"}, which let the model invent arguments
    assert json.loads(tool.parameters_json) == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_declared_parameters_are_kept() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    [tool] = parse_tools([{"name": "get_weather", "parameters": schema}])
    assert json.loads(tool.parameters_json) == schema
