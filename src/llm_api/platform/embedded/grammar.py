"""What the embedded model is allowed to answer: GBNF grammars for JSON mode and tool calls.

llama.cpp samples only tokens its grammar accepts, so a small model still returns
parseable JSON: ``response_format`` becomes the generic JSON grammar or the one
llama.cpp's converter derives from a JSON schema, and ``tools`` become a grammar for
``{"name": <a tool name>, "arguments": <that tool's parameters>}`` (or, with
``tool_choice: "auto"``, that or plain text which does not start with ``{``).

The schema → GBNF conversion is pure Python and cached by schema text; schemas and the
grammars they become are bounded first (``embedded_limits``). llama.cpp is imported
inside the functions that need it, never at import time.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from llm_api.errors import InvalidRequest
from llm_api.platform.embedded import limits

#: The call rule's name inside a tools grammar; ``root`` picks between it and text.
_CALL_RULE = "tool-call"
#: Plain text for ``tool_choice: "auto"``: anything that cannot be mistaken for a call.
_TEXT_RULES = "root ::= tool-call | text\ntext ::= [^{ \\t\\r\\n] .*"
_CALL_SHAPE = '{"name": "<tool name>", "arguments": {<arguments>}}'
#: the parameters of a tool that declares none: an empty list, not "any object"
NO_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters_json: str  # canonical JSON text, so a tool is hashable and cache-friendly


def parse_tools(raw: Any) -> tuple[Tool, ...]:
    """Tools in OpenAI form (``{"type": "function", "function": {...}}``) or flat."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest("tools must be a list", param="tools")
    tools = []
    schema_chars = 0
    for item in raw:
        spec = item.get("function") if isinstance(item, dict) else None
        spec = spec if isinstance(spec, dict) else item
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequest("each tool needs a name", param="tools")
        # no parameters is an empty parameter list (OpenAI's rule): the arguments are {}
        parameters = spec.get("parameters") or NO_PARAMETERS
        if not isinstance(parameters, dict):
            raise InvalidRequest(
                f"tool {spec['name']!r}: parameters must be an object", param="tools"
            )
        text = limits.schema_text(parameters, "tools", f"tool {spec['name']!r}: ")
        schema_chars += len(text)
        if schema_chars > limits.MAX_SCHEMA_CHARS:
            raise InvalidRequest(
                f"tools: the tools' parameters are more than {limits.MAX_SCHEMA_CHARS} "
                "characters of JSON together; the embedded model allows at most that",
                param="tools",
            )
        tools.append(
            Tool(
                name=spec["name"],
                description=str(spec.get("description") or ""),
                parameters_json=text,
            )
        )
    return tuple(tools)


def tool_mode(choice: Any, tools: tuple[Tool, ...]) -> tuple[str, tuple[Tool, ...]]:
    """``("none" | "auto" | "required", the tools the model may call)``."""
    if not tools or choice == "none":
        return "none", ()
    if choice is None or choice == "auto":
        return "auto", tools
    if choice in ("required", "any"):
        return "required", tools
    if isinstance(choice, dict):
        function = choice.get("function") if isinstance(choice.get("function"), dict) else choice
        name = function.get("name")
        chosen = tuple(tool for tool in tools if tool.name == name)
        if not chosen:
            raise InvalidRequest(
                f"tool_choice names an unknown tool: {name!r}", param="tool_choice"
            )
        return "required", chosen
    raise InvalidRequest(
        "tool_choice must be 'auto', 'none', 'required' or a function", param="tool_choice"
    )


def tools_prompt(tools: tuple[Tool, ...], mode: str) -> str:
    """The system-message text that tells the model which tools exist and how to call one."""
    lines = ["You can call these tools:"]
    for tool in tools:
        described = f": {tool.description}" if tool.description else ""
        lines.append(f"- {tool.name}{described} Parameters (JSON schema): {tool.parameters_json}")
    if mode == "auto":
        lines.append(
            f"To call a tool, answer with only this JSON: {_CALL_SHAPE}. "
            "If no tool is needed, answer in plain text."
        )
    else:
        lines.append(f"Call a tool now: answer with only this JSON: {_CALL_SHAPE}.")
    return "\n".join(lines)


def tools_gbnf(tools: tuple[Tool, ...], *, allow_text: bool) -> str:
    return _tools_gbnf(tools, allow_text)


@functools.lru_cache(maxsize=64)
def _tools_gbnf(tools: tuple[Tool, ...], allow_text: bool) -> str:
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": json.loads(tool.parameters_json),
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    schema = calls[0] if len(calls) == 1 else {"oneOf": calls}
    name = _CALL_RULE if allow_text else ""
    rules = _schema_rules(json.dumps(schema, sort_keys=True), name, "tools")
    return f"{rules}\n{_TEXT_RULES}" if allow_text else rules


def response_format_gbnf(response_format: Any) -> str | None:
    """The grammar for Workers AI's ``response_format``, or ``None`` for free text."""
    if not response_format:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema", spec) if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "response_format.json_schema needs a schema", param="response_format"
            )
        return _schema_rules(limits.schema_text(schema, "response_format"), "", "response_format")
    raise InvalidRequest(f"unsupported response_format type: {kind!r}", param="response_format")


_LOOSE_STRING_CHAR = 'char ::= [^"\\\\] |'
_JSON_STRING_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


@functools.lru_cache(maxsize=64)
def _schema_rules(schema_text: str, name: str, param: str) -> str:
    # honours bounds and refuses, naming it, each constraint the grammar would drop
    from llm_api.platform.embedded.schema_converter import BoundedConverter, Refused

    converter = BoundedConverter(
        prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    try:
        schema = converter.resolve_refs(json.loads(schema_text), "input")
        if param == "tools":  # label each tool's parameters (see _tools_gbnf for the shape)
            for call in schema.get("oneOf") or [schema]:
                tool = call.get("properties") or {}
                function = (tool.get("name") or {}).get("const")
                converter.label(tool.get("arguments"), f"tools: function {function!r}: parameters")
        else:
            converter.label(schema, f"{param}.json_schema.schema")
        converter.visit(schema, name)
    except Refused as exc:
        raise InvalidRequest(str(exc), param=param) from None
    except Exception as exc:  # the converter raises bare errors for what it cannot express
        raise InvalidRequest(
            f"the JSON schema cannot be turned into a grammar: {exc}", param=param
        ) from exc
    # llama-cpp-python's converter lets raw control characters (a newline, say) into JSON
    # strings, which is not JSON; llama.cpp's own converter excludes them, as here.
    gbnf = converter.format_grammar().replace(_LOOSE_STRING_CHAR, _JSON_STRING_CHAR)
    limits.check_gbnf(gbnf, param)
    return gbnf


def parse_tool_call(text: str, names: frozenset[str]) -> dict[str, Any] | None:
    """``{"name", "arguments": dict}`` when ``text`` is a complete call, else ``None``."""
    try:
        call = json.loads(text)
    except ValueError:
        return None
    if (
        isinstance(call, dict)
        and call.get("name") in names
        and isinstance(call.get("arguments"), dict)
    ):
        return {"name": call["name"], "arguments": call["arguments"]}
    return None
