"""Bounds on what a JSON schema may ask of the embedded model's grammar.

llama-cpp-python's schema converter turns ``maxItems: n`` (``maxLength``, a pattern's
``{m,n}``) into ``n`` nested optional groups, and llama.cpp's grammar parser recurses
once per nesting level: ``{"type": "array", "maxItems": 20000}`` overflowed its stack and
killed the server (exit 139). So a schema is measured before it is converted, and the
grammar after; each new grammar is then compiled once in a child process
(``embedded_grammar_check``), so whatever these bounds miss costs a 400, not the server.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_api.errors import InvalidRequest

#: most repetitions one keyword may ask for (minItems/maxItems, minLength/maxLength,
#: min/maxProperties, a pattern's {m,n}, nested pattern counts multiplied): llama.cpp
#: itself refuses a single repetition much past 1,000, and ~15,000 overflowed its stack
MAX_REPETITION = 1000
#: deepest nesting of JSON objects and lists in a schema (and of groups in a pattern)
MAX_SCHEMA_DEPTH = 32
#: most properties one object schema may list
MAX_PROPERTIES = 128
#: most values one enum may list
MAX_ENUM_VALUES = 256
#: longest schema, as JSON text (for tools: all tools' parameters together)
MAX_SCHEMA_CHARS = 32_000
#: longest regular expression in a ``pattern``
MAX_PATTERN_CHARS = 1000
#: longest grammar a schema may become (GBNF text)
MAX_GBNF_CHARS = 200_000
#: deepest nesting of parentheses in that grammar, for the parser's recursion: on a
#: 1 MiB stack 2,000 levels compiled and 4,000 crashed; the server's threads have 8 MiB
MAX_GBNF_NESTING = MAX_REPETITION + 2 * MAX_SCHEMA_DEPTH

_COUNTS = frozenset(
    {"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"}
)
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_ONE = frozenset(
    {"items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
     "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
_QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(?:(,)\s*(\d*)\s*)?\}")


class _Refused(ValueError):
    """A bound the schema exceeds; ``schema_text`` turns it into a 400 naming the field."""


def schema_text(schema: Any, param: str, where: str = "") -> str:
    """``schema`` as canonical JSON text, once it is known to be within the bounds.

    ``where`` says which part of ``param`` holds the schema (``"tool 'f': "``).
    """
    try:
        _check_depth(schema)
        text = json.dumps(schema, sort_keys=True)
        if len(text) > MAX_SCHEMA_CHARS:
            raise _too_much("the schema", len(text), MAX_SCHEMA_CHARS, "characters of JSON")
        _walk(schema, "#")
    except _Refused as exc:
        raise InvalidRequest(f"{param}: {where}{exc}", param=param) from None
    return text


def check_gbnf(gbnf: str, param: str) -> None:
    """Refuse a converted grammar that is too long or nests too deeply for llama.cpp."""
    try:
        if len(gbnf) > MAX_GBNF_CHARS:
            raise _too_much("its grammar", len(gbnf), MAX_GBNF_CHARS, "characters")
        depth = gbnf_nesting(gbnf)
        if depth > MAX_GBNF_NESTING:
            raise _too_much("its grammar's nesting", depth, MAX_GBNF_NESTING, "levels")
    except _Refused as exc:
        raise InvalidRequest(f"{param}: the schema is too complex: {exc}", param=param) from None


def gbnf_nesting(gbnf: str) -> int:
    """The deepest parenthesis nesting in ``gbnf``, outside literals and character classes."""
    depth = deepest = i = 0
    while i < len(gbnf):
        c = gbnf[i]
        if c in '"[':  # skip a "literal" or a [class], honouring backslash escapes
            close = '"' if c == '"' else "]"
            i += 1
            while i < len(gbnf) and gbnf[i] != close:
                i += 2 if gbnf[i] == "\\" else 1
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest


def pattern_weight(pattern: str) -> int:
    """How many times ``pattern`` may repeat one character: nested ``{m,n}`` multiplied.

    Raises ``ValueError`` past ``MAX_REPETITION`` or ``MAX_SCHEMA_DEPTH`` (groups), so a
    hostile pattern costs one pass over its text.
    """
    frames = [[1, 1]]  # per open group: [heaviest part so far, weight of the last part]
    i = 0
    while i < len(pattern):
        c, frame = pattern[i], frames[-1]
        if c == "(":
            if len(frames) > MAX_SCHEMA_DEPTH:
                raise ValueError(f"groups nest deeper than {MAX_SCHEMA_DEPTH} levels")
            frames.append([1, 1])
        elif c == ")" and len(frames) > 1:
            inner = frames.pop()
            frames[-1][1] = inner[0]
        elif c == "{" and (match := _QUANTIFIER.match(pattern, i)):
            low, comma, high = match.groups()
            count = int(high or low or 0) if comma else int(low or 0)
            frame[1] *= max(count, 1)
            if frame[1] > MAX_REPETITION:
                raise ValueError(f"it repeats a part more than {MAX_REPETITION} times")
            i = match.end() - 1
        elif c not in "*+?|":
            if c == "\\":
                i += 1
            elif c == "[":  # a class is one character: skip to its end
                i += 2 if pattern[i + 1 : i + 2] == "]" else 1
                while i < len(pattern) and pattern[i] != "]":
                    i += 2 if pattern[i] == "\\" else 1
            frame[1] = 1
        frame = frames[-1]
        frame[0] = max(frame[0], frame[1])
        i += 1
    return frames[0][0]


def _check_depth(node: Any) -> None:
    todo = [(node, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, dict | list):
            if depth > MAX_SCHEMA_DEPTH:
                raise _too_much("the schema's nesting", depth, MAX_SCHEMA_DEPTH, "levels")
            values = node.values() if isinstance(node, dict) else node
            todo.extend((value, depth + 1) for value in values)


def _walk(schema: Any, path: str) -> None:
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        at = f"{path}/{key}"
        if key in _COUNTS:
            _check_count(key, value, path)
        elif key == "pattern" and isinstance(value, str):
            _check_pattern(value, path)
        elif key == "enum" and isinstance(value, list) and len(value) > MAX_ENUM_VALUES:
            raise _too_much(f"enum at {path}", len(value), MAX_ENUM_VALUES, "values")
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            if key == "properties" and len(value) > MAX_PROPERTIES:
                raise _too_much(f"properties at {path}", len(value), MAX_PROPERTIES, "entries")
            for name, sub in value.items():
                _walk(sub, f"{at}/{name}")
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for index, sub in enumerate(value):
                _walk(sub, f"{at}/{index}")
        elif key in _SCHEMA_ONE:
            _walk(value, at)


def _check_count(key: str, value: Any, path: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and value > MAX_REPETITION:
        raise _too_much(f"{key} at {path}", value, MAX_REPETITION, "")
    if not number or not 0 <= value or value % 1:  # NaN fails 0 <= value
        raise _Refused(f"{key} at {path} must be a whole number from 0 to {MAX_REPETITION}")


def _check_pattern(pattern: str, path: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise _too_much(f"pattern at {path}", len(pattern), MAX_PATTERN_CHARS, "characters")
    try:
        pattern_weight(pattern)
    except ValueError as exc:
        raise _Refused(
            f"pattern at {path}: {exc} (the embedded model allows {MAX_REPETITION} "
            f"repetitions, nested {{m,n}} counts multiplied, and {MAX_SCHEMA_DEPTH} levels)"
        ) from None


def _too_much(what: str, value: Any, limit: int, unit: str) -> _Refused:
    unit = f" {unit}" if unit else ""
    return _Refused(f"{what} is {value}{unit}; the embedded model allows at most {limit}{unit}")
