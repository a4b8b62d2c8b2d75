"""Bounds on the schemas the embedded model turns into grammars (issue 12, finding 1).

Each hostile schema is refused with a 400 that names the field (``response_format`` or
``tools``), the keyword and the limit, before llama-cpp-python's converter or llama.cpp
sees it. No model is loaded here: the converter is pure Python.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from llm_api.errors import InvalidRequest
from llm_api.platform.embedded import limits
from llm_api.platform.embedded.grammar import parse_tools, response_format_gbnf, tools_gbnf

pytestmark = pytest.mark.llama  # loads llama.cpp: `make test` runs it, `make test-fast` skips it

pytest.importorskip("llama_cpp", reason="the schema converter comes with llama-cpp-python")

#: the schemas of the review that segfaulted llama.cpp (exit 139)
CRASHING = {
    "maxItems": {"type": "array", "items": {"type": "string"}, "maxItems": 20000},
    "maxLength": {"type": "string", "maxLength": 20000},
    "pattern": {"type": "string", "pattern": "^(ab){0,100000}$"},
}


def as_response_format(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


def refused(schema: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        response_format_gbnf(as_response_format(schema))
    return caught.value


def refused_as_tool(schema: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        tools = parse_tools([{"type": "function", "function": {"name": "f", "parameters": schema}}])
        tools_gbnf(tools, allow_text=False)
    return caught.value


@pytest.mark.parametrize("keyword", sorted(CRASHING))
def test_schema_that_crashed_llama_cpp_is_refused_naming_keyword_and_limit(keyword: str) -> None:
    error = refused(CRASHING[keyword])

    assert error.status == 400 and error.param == "response_format"
    assert error.message.startswith("response_format: ")
    assert keyword in error.message and str(limits.MAX_REPETITION) in error.message


@pytest.mark.parametrize("keyword", sorted(CRASHING))
def test_tool_parameters_that_crashed_llama_cpp_are_refused(keyword: str) -> None:
    schema = {"type": "object", "properties": {"a": CRASHING[keyword]}, "required": ["a"]}
    error = refused_as_tool(schema)

    assert error.param == "tools" and error.message.startswith("tools: tool 'f': ")
    assert keyword in error.message and "#/properties/a" in error.message


@pytest.mark.parametrize(
    "keyword", ["minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"]
)
def test_each_repetition_keyword_is_bounded(keyword: str) -> None:
    kind = "array" if "Items" in keyword else "string" if "Length" in keyword else "object"
    at_limit = {"type": kind, keyword: limits.MAX_REPETITION}
    if kind == "object":  # no grammar keeps min/maxProperties: refused by name (h15)
        assert f"schema.{keyword}: " in refused(at_limit).message
    else:
        assert response_format_gbnf(as_response_format(at_limit))

    error = refused({"type": kind, keyword: limits.MAX_REPETITION + 1})
    assert f"{keyword} at # is {limits.MAX_REPETITION + 1}" in error.message
    assert f"at most {limits.MAX_REPETITION}" in error.message


@pytest.mark.parametrize("value", [-1, 2.5, "10", True, None, float("nan")])
def test_repetition_counts_must_be_whole_numbers(value: Any) -> None:
    error = refused({"type": "string", "maxLength": value})
    assert "maxLength at # must be a whole number" in error.message


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        ("^a{1000}$", True),
        ("^a{0,1000}b{0,1000}$", True),  # side by side: each repeats at most 1,000 times
        ("^(ab){3}[a-z]{2,5}$", True),
        ("^a{1001}$", False),
        ("^a{5,}b{,2000}$", False),
        ("^(a{0,40}){0,40}$", False),  # nested: 1,600 repetitions of "a"
        ("^((x|y){10}z){101}$", False),
    ],
)
def test_pattern_repetition_is_bounded_nested_counts_multiplied(
    pattern: str, allowed: bool
) -> None:
    schema = {"type": "string", "pattern": pattern}
    if allowed:
        assert response_format_gbnf(as_response_format(schema))
    else:
        error = refused(schema)
        assert "pattern at #" in error.message and str(limits.MAX_REPETITION) in error.message


def test_pattern_length_and_group_depth_are_bounded() -> None:
    long = refused({"type": "string", "pattern": "^" + "a" * limits.MAX_PATTERN_CHARS + "$"})
    assert f"at most {limits.MAX_PATTERN_CHARS} characters" in long.message

    depth = limits.MAX_SCHEMA_DEPTH + 1
    deep = refused({"type": "string", "pattern": "^" + "(" * depth + "a" + ")" * depth + "$"})
    assert f"groups nest deeper than {limits.MAX_SCHEMA_DEPTH} levels" in deep.message


def test_hostile_pattern_costs_one_pass() -> None:
    pattern = "^" + "(" * 30 + "a{1000}" + "){2}" * 30 + "$"
    started = time.perf_counter()
    with pytest.raises(ValueError, match="more than 1000 times"):
        limits.pattern_weight(pattern)
    assert time.perf_counter() - started < 0.05


def test_schema_nesting_is_bounded() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(limits.MAX_SCHEMA_DEPTH):
        schema = {"type": "array", "items": schema}
    error = refused(schema)
    assert "the schema's nesting is" in error.message
    assert f"at most {limits.MAX_SCHEMA_DEPTH} levels" in error.message


def test_properties_and_enum_values_are_bounded() -> None:
    many = {f"p{i}": {"type": "integer"} for i in range(limits.MAX_PROPERTIES + 1)}
    error = refused({"type": "object", "properties": many})
    assert f"properties at # is {limits.MAX_PROPERTIES + 1} entries" in error.message

    values = list(range(limits.MAX_ENUM_VALUES + 1))
    nested = {"type": "object", "properties": {"e": {"enum": values}}}
    error = refused(nested)
    assert f"enum at #/properties/e is {len(values)} values" in error.message


def test_a_property_named_like_a_keyword_is_a_name_not_a_bound() -> None:
    schema = {"type": "object", "properties": {"maxLength": {"type": "string", "maxLength": 5}}}
    grammar = response_format_gbnf(as_response_format(schema))
    assert '\\"maxLength\\"' in grammar


def test_schema_size_is_bounded_for_response_format_and_all_tools_together() -> None:
    text = "d" * limits.MAX_SCHEMA_CHARS
    error = refused({"type": "string", "description": text})
    assert f"at most {limits.MAX_SCHEMA_CHARS} characters of JSON" in error.message

    half = {"type": "object", "description": "d" * (limits.MAX_SCHEMA_CHARS // 2)}
    tools = [{"name": f"t{i}", "parameters": half} for i in range(3)]
    with pytest.raises(InvalidRequest) as caught:
        parse_tools(tools)
    assert caught.value.param == "tools"
    assert f"more than {limits.MAX_SCHEMA_CHARS} characters" in caught.value.message


def test_grammar_size_and_nesting_are_bounded() -> None:
    with pytest.raises(InvalidRequest) as caught:
        limits.check_gbnf("root ::= " + '"a" ' * limits.MAX_GBNF_CHARS, "tools")
    assert caught.value.param == "tools"
    assert f"at most {limits.MAX_GBNF_CHARS} characters" in caught.value.message

    deep = limits.MAX_GBNF_NESTING + 1
    with pytest.raises(InvalidRequest) as caught:
        limits.check_gbnf("root ::= " + '("(" ' * deep + ")?" * deep, "response_format")
    assert f"nesting is {deep} levels" in caught.value.message


def test_gbnf_nesting_ignores_parentheses_in_literals_and_classes() -> None:
    assert limits.gbnf_nesting('root ::= "((\\"((" [()\\]] (a (b))') == 2


def test_schemas_at_the_limits_still_make_grammars() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 1000}},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,1000}$"},
            "list": {"type": "array", "items": {"type": "integer"}, "maxItems": 1000},
            "kind": {"enum": list(range(limits.MAX_ENUM_VALUES))},
        },
        "required": ["tags", "code", "list", "kind"],
    }
    grammar = response_format_gbnf(as_response_format(schema))
    assert limits.gbnf_nesting(grammar) <= limits.MAX_GBNF_NESTING
    assert len(grammar) <= limits.MAX_GBNF_CHARS
    assert json.loads(limits.schema_text(schema, "response_format")) == schema
