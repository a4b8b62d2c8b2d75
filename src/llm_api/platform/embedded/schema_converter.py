"""llama-cpp-python's schema converter, made to honour a schema's constraints or refuse it.

Its ``SchemaConverter.visit`` picks one way to write each schema (a ``$ref``, a union,
an object, a string with a pattern, ...) and silently drops every keyword that way does
not use: ``{"type": "integer", "minimum": 1, "maximum": 5}`` came back as ``100``.
Here each schema is classified the same way first (``_branch``); a keyword that
constrains the value and that the chosen way drops is refused with a 400 naming the
keyword and where it is (``response_format.json_schema.schema.properties.score.
multipleOf``); keywords for other types than the one written do not apply and are left.
On top of that this converter writes integer and number bounds (``int_ranges``), the
``email``, ``hostname`` and ``ipv4`` formats (``string_formats``),
``"type": [..]`` lists with their keywords, arrays with counts but no ``items``, and a
schema without constraints as any value. Keywords it does not know (``title``,
``x-...``) are annotations and stay ignored, as JSON Schema says.
"""

from __future__ import annotations

import math
import re
from typing import Any

from llama_cpp.llama_grammar import (
    PRIMITIVE_RULES,
    RESERVED_NAMES,
    STRING_FORMAT_RULES,
    SchemaConverter,
)

from llm_api.platform.embedded import int_ranges, string_formats

_STRING = frozenset({"minLength", "maxLength", "pattern", "format"})
_NUMBER = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_ARRAY = frozenset(
    {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
     "contains", "minContains", "maxContains", "unevaluatedItems"}
)  # fmt: skip
_OBJECT = frozenset(
    {"properties", "required", "additionalProperties", "patternProperties", "propertyNames",
     "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
     "dependencies", "unevaluatedProperties"}
)  # fmt: skip
_ANY_TYPE = frozenset(
    {"type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref"}
)
_FAMILY = {"string": _STRING, "integer": _NUMBER, "number": _NUMBER, "array": _ARRAY,
           "object": _OBJECT, "boolean": frozenset(), "null": frozenset()}  # fmt: skip
CONSTRAINTS = _STRING | _NUMBER | _ARRAY | _OBJECT | _ANY_TYPE
#: the keywords each way of writing a schema honours (the others are refused)
_HONOURS = {
    "ref": {"$ref"},
    "const": {"type", "const", "enum"},  # the values are written exactly as given
    "enum": {"type", "enum"},
    "object": {"type", "properties", "required", "additionalProperties"},
    "allOf": {"type", "allOf"},
    "array": {"type", "items", "minItems", "maxItems"},
    "tuple": {"type", "items", "prefixItems", "minItems", "maxItems"},
    "pattern": {"type", "pattern"},
    "format": {"type", "format"},
    "our-format": {"type", "format"},
    "length": {"type", "minLength", "maxLength"},
    "range": {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "object-any": {"type", "additionalProperties"},
    "array-counts": {"type", "minItems", "maxItems"},
    "primitive": {"type"},
}
#: the one type each way writes (keywords of the other types do not apply to it)
_WRITES = {"object": "object", "allOf": "object", "array": "array", "tuple": "array",
           "pattern": "string", "format": "string", "our-format": "string", "length": "string",
           "object-any": "object", "array-counts": "array"}  # fmt: skip
#: values with which a keyword asks nothing
_VACUOUS = {"uniqueItems": False, "minItems": 0, "minLength": 0, "minProperties": 0}
_ANY_VALUE = {"$comment": "any JSON value"}  # truthy, so the base converter visits it


_FORMATS = ["date", "time", "date-time", "uuid", *string_formats.FORMATS]
_BESIDE = {"ref": "$ref", "union": "anyOf/oneOf"}


class Refused(ValueError):
    """A keyword the grammar cannot honour; the message names it and its path."""


class BoundedConverter(SchemaConverter):  # type: ignore[misc]
    """``SchemaConverter`` that refuses what it would drop; ``label`` the roots first."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._paths: dict[int, str] = {}
        self._keep: list[Any] = []  # the schemas made here, so their ids stay theirs

    def label(self, schema: Any, path: str) -> None:
        """Name ``schema`` and everything under it by its path, for the refusals."""
        todo = [(schema, path)]
        while todo:
            node, at = todo.pop()
            if not isinstance(node, dict) or id(node) in self._paths:
                continue
            self._paths[id(node)] = at
            for key, value in node.items():
                if key in ("properties", "patternProperties", "$defs", "definitions"):
                    if isinstance(value, dict):
                        todo.extend((sub, f"{at}.{key}.{name}") for name, sub in value.items())
                elif isinstance(value, list):
                    todo.extend((sub, f"{at}.{key}[{i}]") for i, sub in enumerate(value))
                else:
                    todo.append((value, f"{at}.{key}"))

    def visit(self, schema: Any, name: str) -> str:
        if schema is True or schema == {}:
            schema = _ANY_VALUE
        if not isinstance(schema, dict):
            raise Refused(f"{self._where(schema)}: a schema must be an object")
        schema = self._normalized(schema)
        path = self._where(schema)
        kind = _branch(schema)
        self._check(schema, kind, path)
        rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
        if kind == "types":  # each type with the keywords that apply to it
            alternatives = [self._made(_typed(schema, t), path) for t in schema["type"]]
            return self._add_rule(rule_name, self._generate_union_rule(name, alternatives))
        if kind == "our-format":
            rule = string_formats.FORMATS[schema["format"]]
            return self._add_rule(rule_name, f'"\\"" {rule} "\\"" space')
        if kind == "range":
            return self._add_rule(rule_name, f"({_range_rule(schema, path)}) space")
        if kind == "any":
            return self._add_rule(rule_name, self._add_primitive("value", PRIMITIVE_RULES["value"]))
        if kind == "array-counts":
            return super().visit(self._made({**schema, "items": _ANY_VALUE}, path), name)
        return str(super().visit(schema, name))

    def _normalized(self, schema: dict[str, Any]) -> dict[str, Any]:
        # "items": {} or true is any item; the base converter mistakes it for no items
        if schema.get("items") is True or schema.get("items") == {}:
            return self._made({**schema, "items": _ANY_VALUE}, self._where(schema))
        if "pattern" in schema and "format" in schema and schema.get("type") == "string":
            # zod 4 writes its own regex beside the format (`z.email()`, `z.uuid()`,
            # `z.iso.datetime()`), and checks the answer against that regex: write the
            # pattern, which says exactly what the client accepts
            pattern_only = {key: value for key, value in schema.items() if key != "format"}
            return self._made(pattern_only, self._where(schema))
        return schema

    def _visit_pattern(self, pattern: str, name: str) -> str:
        return str(super()._visit_pattern(plain_regex(pattern), name))

    def _made(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        self._keep.append(schema)
        self._paths[id(schema)] = path
        return schema

    def _where(self, schema: Any) -> str:
        return self._paths.get(id(schema), "the schema")

    def _check(self, schema: dict[str, Any], kind: str, path: str) -> None:
        if kind in ("types", "any"):
            return  # a list of types is checked type by type
        honoured = _HONOURS.get(kind) or {"oneOf" if schema.get("oneOf") else "anyOf"}
        if kind == "union" and self._types_agree(schema):
            honoured = {*honoured, "type"}  # each alternative already is of that type
        written = _WRITES.get(kind) or (
            schema.get("type") if kind in ("range", "primitive") else None
        )
        for key in sorted(schema.keys() & CONSTRAINTS - honoured):
            applies = written is None or key in _ANY_TYPE or key in _FAMILY.get(written, ())
            if applies and _VACUOUS.get(key, ...) != schema[key]:
                raise Refused(_unsupported(path, key, schema[key], kind))
        for low, high in (("minItems", "maxItems"), ("minLength", "maxLength")):
            if schema.get(low, 0) > schema.get(high, math.inf):  # the base writes min copies
                raise Refused(
                    f"{path}.{low}: more than {high}; the embedded model cannot meet both"
                )
        if kind == "object":
            missing = set(schema.get("required") or ()) - set(schema.get("properties") or ())
            if missing:
                raise Refused(
                    f"{path}.required: {sorted(missing)[0]!r} is required but not "
                    "among the properties; the embedded model writes only those"
                )
        elif kind == "tuple":
            _check_tuple(schema, path)
        elif kind == "allOf":
            for index, part in enumerate(schema["allOf"]):
                if isinstance(part, dict) and "$ref" in part:
                    part = self._refs.get(part["$ref"], part)
                if not isinstance(part, dict) or part.keys() & CONSTRAINTS - _HONOURS["object"]:
                    raise Refused(
                        f"{path}.allOf[{index}]: the embedded model honours allOf "
                        "only of object schemas with properties, required and "
                        "additionalProperties"
                    )
        elif kind == "primitive" and schema.get("type") not in PRIMITIVE_RULES:
            raise Refused(f"{path}.type: {schema.get('type')!r} is not a JSON schema type")

    def _types_agree(self, schema: dict[str, Any]) -> bool:
        outer = schema.get("type")
        outer = set(outer) if isinstance(outer, list) else {outer}
        for part in schema.get("oneOf") or schema.get("anyOf") or ():
            if isinstance(part, dict) and "$ref" in part:
                part = self._refs.get(part["$ref"], part)
            if not isinstance(part, dict) or part.get("type") not in outer:
                return False
        return True


#: class shorthands the base converter writes as literal text (``"\\d"``, which llama.cpp
#: then refuses): the ranges they stand for, inside a class and outside one
_SHORTHANDS = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r"}


def plain_regex(pattern: str) -> str:
    """``pattern`` in the syntax the base converter and llama.cpp's grammar parser know:
    ``(?:...)`` as ``(...)``, ``\\d``/``\\w``/``\\s`` as their ranges, and an escaped
    punctuation character (``\\.``, ``\\-``) as its ``\\xHH`` code, the one escape GBNF
    takes for any character (it refuses ``\\.``), in a class of its own outside classes
    (the base converter would split a literal ``"\\x2e"`` before a quantifier). The same
    strings match; zod's email and date-time patterns need all three. Lookarounds stay
    unsupported (the converter refuses them)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            shorthand = _SHORTHANDS.get(escaped)
            if shorthand is not None:
                out.append(shorthand if in_class else f"[{shorthand}]")
            elif not escaped.isalnum() and escaped != "\\" and ord(escaped) < 128:
                code = f"\\x{ord(escaped):02x}"  # a class of one outside: kept whole
                out.append(code if in_class else f"[{code}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif pattern.startswith("(?:", i):
            out.append("(")
            i += 3
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _branch(schema: dict[str, Any]) -> str:
    """Which way the base converter (or this one) writes ``schema``; the same order."""
    kind, fmt = schema.get("type"), schema.get("format")
    if "$ref" in schema:
        return "ref"
    if "oneOf" in schema or "anyOf" in schema:
        return "union"
    if isinstance(kind, list):
        return "types"
    if "const" in schema or "enum" in schema:
        return "const" if "const" in schema else "enum"
    if kind in (None, "object") and (
        "properties" in schema or schema.get("additionalProperties", True) is not True
    ):
        return "object"
    if kind in (None, "object") and "allOf" in schema:
        return "allOf"
    if kind in (None, "array") and ("items" in schema or "prefixItems" in schema):
        # a dict "items" wins over "prefixItems" there (which is then refused)
        return "array" if isinstance(schema.get("items"), dict) else "tuple"
    if kind in (None, "string") and "pattern" in schema:
        return "pattern"
    if kind in (None, "string") and (
        re.match(r"^uuid[1-5]?$", fmt or "") or f"{fmt}-string" in STRING_FORMAT_RULES
    ):
        return "format"
    if kind in (None, "string") and fmt in string_formats.FORMATS:
        return "our-format"
    if kind == "string" and ("minLength" in schema or "maxLength" in schema):
        return "length"
    if kind in ("integer", "number") and schema.keys() & (_NUMBER - {"multipleOf"}):
        return "range"
    if kind == "object" or not schema:
        return "object-any"
    if kind is None and not schema.keys() & CONSTRAINTS:
        return "any"
    if kind == "array" and schema.keys() & {"minItems", "maxItems"}:
        return "array-counts"
    return "primitive"


def _typed(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    own = _FAMILY.get(kind, frozenset())
    other = (_STRING | _NUMBER | _ARRAY | _OBJECT) - own
    return {**{k: v for k, v in schema.items() if k not in other}, "type": kind}


def _check_tuple(schema: dict[str, Any], path: str) -> None:
    items = schema.get("items")
    count = len(items if isinstance(items, list) else schema.get("prefixItems") or ())
    if not schema.get("minItems", 0) <= count <= schema.get("maxItems", count):
        raise Refused(
            f"{path}.minItems: the embedded model writes exactly the {count} "
            "items listed, which minItems/maxItems do not allow"
        )


def _range_rule(schema: dict[str, Any], path: str) -> str:
    integer = schema["type"] == "integer"
    bounds: dict[str, Any] = {}
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        value = schema.get(key)
        if key in schema and not (isinstance(value, bool) and key.startswith("exclusive")):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise Refused(f"{path}.{key}: must be a number")
            if not integer and value % 1:
                raise Refused(
                    f"{path}.{key}: the embedded model honours a number's bounds only "
                    f"when they are whole numbers ({value} is not); use an integer "
                    "or whole bounds"
                )
            bounds[key] = value
    low = _tighter(bounds.get("minimum"), bounds.get("exclusiveMinimum"), max)
    high = _tighter(bounds.get("maximum"), bounds.get("exclusiveMaximum"), min)
    # draft 4 writes an exclusive bound as "exclusiveMinimum": true beside "minimum"
    low_open = low is not None and (
        (low == bounds.get("exclusiveMinimum")) or schema.get("exclusiveMinimum") is True
    )
    high_open = high is not None and (
        (high == bounds.get("exclusiveMaximum")) or schema.get("exclusiveMaximum") is True
    )
    try:
        if integer:
            least = None if low is None else math.floor(low) + 1 if low_open else math.ceil(low)
            most = None if high is None else math.ceil(high) - 1 if high_open else math.floor(high)
            return int_ranges.integer_range(least, most)
        return int_ranges.number_range(
            None if low is None else int(low), None if high is None else int(high),
            low_open=low_open, high_open=high_open,
        )  # fmt: skip
    except int_ranges.EmptyRange as exc:
        raise Refused(
            f"{path}: the bounds leave nothing the embedded model can write ({exc})"
        ) from None


def _tighter(inclusive: float | None, exclusive: float | None, pick: Any) -> float | None:
    given = [v for v in (inclusive, exclusive) if v is not None]
    return pick(given) if given else None


def _unsupported(path: str, key: str, value: Any, kind: str) -> str:
    if key == "format":
        what = f"format {value!r} (it writes {', '.join(_FORMATS)})"
    elif kind in ("pattern", "format", "our-format") and key in _STRING:
        what = f"{key} together with {kind.removeprefix('our-')}"
    elif kind in ("ref", "union", "const", "enum"):
        what = f"{key} beside {_BESIDE.get(kind, kind)}"
    else:
        what = key
    return (
        f"{path}.{key}: the embedded model cannot enforce {what}; leave it out "
        "(or check the answer yourself)"
    )
