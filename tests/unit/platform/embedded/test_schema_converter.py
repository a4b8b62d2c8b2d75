"""What the embedded model's schema grammar honours, and what it refuses (client finding).

Before: llama-cpp-python's converter dropped every keyword its chosen rule did not use,
so ``{"type": "integer", "minimum": 1, "maximum": 5}`` was any integer and the openai
SDK's ``parse`` got ``score: 100``. Now integer and number bounds are written into the
grammar (``int_ranges``), and each constraint that would still be dropped is a 400
naming the keyword and its path. The model tests load SmolLM2-135M.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_api.errors import InvalidRequest
from llm_api.platform.embedded import limits
from llm_api.platform.embedded.backend import EmbeddedBackend, default_model_path
from llm_api.platform.embedded.grammar import parse_tools, response_format_gbnf, tools_gbnf
from llm_api.platform.embedded.grammar_check import GrammarChecker

pytestmark = pytest.mark.llama  # loads llama.cpp: `make test` runs it, `make test-fast` skips it

pytest.importorskip("llama_cpp", reason="the schema converter comes with llama-cpp-python")

MODEL = "@cf/meta/llama-3.2-3b-instruct"
SCORE = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["score"],
}


def as_response_format(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


def in_object(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"v": schema}, "required": ["v"]}


def refused(schema: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        response_format_gbnf(as_response_format(schema))
    return caught.value


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend(n_threads=1)
    asyncio.run(backend.load())
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def checker() -> Iterator[GrammarChecker]:
    checker = GrammarChecker(default_model_path())
    yield checker
    checker.close()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("temperature", [0.0, 1.0, 2.0])
def test_integer_minimum_maximum_is_honoured_score_1_to_5(
    backend: EmbeddedBackend, seed: int, temperature: float
) -> None:
    inputs = {
        "messages": [{"role": "user", "content": "Rate this film from 1 to 100: 100 is best."}],
        "temperature": temperature,
        "seed": seed,
        "max_tokens": 24,
        "response_format": as_response_format(SCORE),
    }
    result = asyncio.run(backend.run(MODEL, inputs))

    answer = json.loads(result["response"])  # type: ignore[index]
    assert isinstance(answer["score"], int) and 1 <= answer["score"] <= 5, answer


#: bounded schemas whose grammars are now written (the values are checked in test_int_ranges)
HONOURED = {
    "integer range": {"type": "integer", "minimum": -3, "maximum": 12},
    "exclusive integer": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    "draft 4 exclusive": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
    "huge integer range": {"type": "integer", "minimum": -(10**15), "maximum": 10**15},
    "number 0..1": {"type": "number", "minimum": 0, "maximum": 1},
    "positive number": {"type": "number", "exclusiveMinimum": 0},
    "nullable bounded": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
    "array counts without items": {"type": "array", "minItems": 1, "maxItems": 3},
    "format email": {"type": "string", "format": "email"},
    "format hostname": {"type": "string", "format": "hostname"},
    "format ipv4": {"type": "string", "format": "ipv4"},
}


@pytest.mark.parametrize("name", sorted(HONOURED))
def test_range_grammars_compile_in_llama_cpp_within_the_bounds(
    checker: GrammarChecker, name: str
) -> None:
    schema = HONOURED[name]
    gbnf = response_format_gbnf(as_response_format(in_object(schema)))

    assert gbnf is not None and len(gbnf) < limits.MAX_GBNF_CHARS // 10
    assert limits.gbnf_nesting(gbnf) < limits.MAX_GBNF_NESTING
    checker.check(gbnf, "response_format")  # raises InvalidRequest if llama.cpp refuses it


#: constraints the grammar cannot keep: (property v's schema, the keyword the 400 names)
REFUSED = {
    "fractional number bound": ({"type": "number", "maximum": 0.5}, "maximum"),
    "multipleOf": ({"type": "integer", "multipleOf": 5}, "multipleOf"),
    "format uri": ({"type": "string", "format": "uri"}, "format"),
    "format with maxLength": ({"type": "string", "format": "email", "maxLength": 9}, "maxLength"),
    "pattern with maxLength": ({"type": "string", "pattern": "^a+$", "maxLength": 3}, "maxLength"),
    "uniqueItems": ({"type": "array", "items": {}, "uniqueItems": True}, "uniqueItems"),
    "minProperties": ({"type": "object", "minProperties": 1}, "minProperties"),
    "patternProperties": ({"type": "object", "patternProperties": {"^a": {}}}, "patternProperties"),
    "required, no such property": ({"properties": {}, "required": ["a"]}, "required"),
    "not": ({"type": "string", "not": {"const": "a"}}, "not"),
    "minItems above maxItems": ({"items": {}, "minItems": 3, "maxItems": 1}, "minItems"),
    "minLength above maxLength": ({"type": "string", "minLength": 3, "maxLength": 1}, "minLength"),
    "type beside anyOf": ({"type": "string", "anyOf": [{"type": "integer"}]}, "type"),
    "ref with a sibling": ({"$ref": "#/$defs/n", "maximum": 3}, "maximum"),
    "empty range": ({"type": "integer", "minimum": 5, "maximum": 1}, ""),
    "nothing past 16 digits": ({"type": "integer", "minimum": 10**17}, ""),
    "enum with a sibling": ({"type": "string", "enum": ["ab"], "maxLength": 1}, "maxLength"),
    "tuple longer than maxItems": ({"prefixItems": [{}, {}], "maxItems": 1}, "minItems"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_constraint_the_grammar_would_drop_is_a_400_naming_keyword_and_path(name: str) -> None:
    schema, where = REFUSED[name]  # where: the keyword, or "" for v itself
    wrapped = {**in_object(schema), "$defs": {"n": {"type": "integer"}}}
    error = refused(wrapped)

    assert error.status == 400 and error.param == "response_format"
    path = "response_format.json_schema.schema.properties.v" + (f".{where}" if where else "")
    assert error.message.startswith(f"{path}:") or error.message.startswith(f"{path} "), error
    assert "embedded model" in error.message


def test_tool_parameter_constraint_is_a_400_naming_the_function_and_path() -> None:
    parameters = in_object({"type": "integer", "multipleOf": 3})
    tools = parse_tools([{"type": "function", "function": {"name": "f", "parameters": parameters}}])
    with pytest.raises(InvalidRequest) as caught:
        tools_gbnf(tools, allow_text=True)

    assert caught.value.param == "tools"
    assert caught.value.message.startswith(
        "tools: function 'f': parameters.properties.v.multipleOf"
    )


def test_tool_parameter_bounds_are_written_into_the_tools_grammar() -> None:
    parameters = in_object({"type": "integer", "minimum": 1, "maximum": 5})
    tools = parse_tools([{"type": "function", "function": {"name": "f", "parameters": parameters}}])

    assert "[1-5]" in tools_gbnf(tools, allow_text=False)


def test_keywords_for_other_types_and_annotations_are_left_alone() -> None:
    # maxLength does not apply to an integer, title/x-... are annotations: nothing refused
    schema = in_object({"type": "integer", "maxLength": 3, "title": "V", "x-order": 1})
    assert response_format_gbnf(as_response_format(schema))
    # a type list keeps each type's own keywords: the string side is still at most 2 long
    listed = response_format_gbnf(
        as_response_format(in_object({"type": ["string", "null"], "maxLength": 2}))
    )
    assert "(char (char)?)?" in listed and "null" in listed
    # a type beside anyOf that every alternative already has is kept, not refused
    union = {"type": "object", "anyOf": [{"type": "object", "properties": {"a": {"const": 1}}}]}
    assert response_format_gbnf(as_response_format(in_object(union)))


#: what zod 4's ``z.toJSONSchema`` writes for ``z.email()``, ``z.uuid()`` and
#: ``z.iso.datetime()`` (zod 4.6.7, printed by node_modules/zod): a format beside zod's own
#: regex, with non-capturing groups. Refused before ("format together with pattern", and the
#: converter knew no "(?:"), so a zod schema with an email field could not be asked at all.
ZOD_EMAIL = (
    r"^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@"
    r"(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
)
ZOD_UUID = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"
    r"[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
ZOD_DATETIME = (
    r"^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|"
    r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|"
    r"(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$"
)
ZOD_FIELDS = {
    "email": {"type": "string", "format": "email", "pattern": ZOD_EMAIL},
    "id": {"type": "string", "format": "uuid", "pattern": ZOD_UUID},
    "at": {"type": "string", "format": "date-time", "pattern": ZOD_DATETIME},
}


def test_zod_format_with_its_own_pattern_is_written_as_the_pattern(
    backend: EmbeddedBackend,
) -> None:
    import re

    schema = {
        "type": "object",
        "properties": ZOD_FIELDS,
        "required": list(ZOD_FIELDS),
        "additionalProperties": False,
    }
    inputs = {
        "messages": [{"role": "user", "content": "A user record for Ada Lovelace."}],
        "temperature": 0,
        "max_tokens": 160,
        "response_format": as_response_format(schema),
    }
    result = asyncio.run(backend.run(MODEL, inputs))
    answer = json.loads(result["response"])  # type: ignore[index]
    for name, field in ZOD_FIELDS.items():
        assert re.fullmatch(field["pattern"], answer[name]), (name, answer[name])


def test_patterns_are_rewritten_into_the_syntax_the_converter_knows() -> None:
    from llm_api.platform.embedded.schema_converter import plain_regex

    assert plain_regex(r"^(?:ab)+(?:c|d)$") == r"^(ab)+(c|d)$"
    assert plain_regex(r"[(?:]\(?:x") == r"[(?:][\x28]?:x"  # in a class, or escaped: not a group
    assert plain_regex(r"(?=x)") == r"(?=x)"  # lookarounds stay refused
    assert plain_regex(r"^\d{4}[\d.]\w\.$") == r"^[0-9]{4}[0-9.][A-Za-z0-9_][\x2e]$"
    assert plain_regex(r"[a\-z]\n\\") == r"[a\x2dz]\n\\"  # GBNF has \n and \\, not \-
