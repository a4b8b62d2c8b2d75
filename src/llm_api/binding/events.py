"""What a backend's result or stream event says, whatever JSON the upstream put in it.

The one reader of results, events, tool calls and usage. Workers AI answers
``{"response": ...}`` (results and frames alike); some newer models (and the OpenAI
backend's upstreams) answer ``chat.completion`` objects and ``chat.completion.chunk``
frames instead, and gpt-oss may answer in the Responses shape (``output[]``). Results end
up in the binding's shape (``run_result``), events as one
``StreamEvent`` (``parse_event``), a stream's events as one result (``StreamAssembler``).

Every reader here is total: whatever JSON value the upstream sent, it returns the
binding's shape or raises ``BackendError`` (a 502: the upstream's fault, not ours); an
event of the wrong shape becomes an event whose ``error`` says so. Tool calls pass
through backends as the upstream sent them: ``tool_call``, which the generation service
alone applies, is the one rule for what their arguments may be, on every backend and in
every mode.

``usage`` keeps only the plausible counts, absent when none is (the service estimates);
``logprobs`` (``binding.logprobs``) is kept where a backend sent token log-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm_api.binding.json_text import dumps, loads
from llm_api.binding.logprobs import event_logprobs, token_logprobs
from llm_api.binding.protocol import RunResult, TokenLogprob, ToolCall, ToolCallFragment, Usage
from llm_api.binding.responses_shape import as_chat_completion
from llm_api.binding.workers_ai import SERVICE, function_of
from llm_api.errors import BackendError, InvalidModelOutput

DONE = "[DONE]"

#: A token count above this, for one request, is not a count: no model's context comes
#: near it, and trusting it would bill (or overflow) whatever the upstream chose.
MAX_USAGE_TOKENS = 10_000_000


# --- whole results ---------------------------------------------------------------------


def run_result(payload: object, *, service: str = SERVICE) -> RunResult:
    """A backend's answer in the binding's shape: ``{"response", ...}`` or a
    ``chat.completion``. Idempotent: a result already in the binding's shape is kept."""
    if not isinstance(payload, dict):
        raise BackendError(f"{service} answered with a result that is not an object")
    if "choices" in payload:  # newer models answer in OpenAI's chat.completion shape
        return _completion_result(payload, service)
    if payload.get("object") == "response" or "output" in payload:  # Responses (gpt-oss)
        return _completion_result(as_chat_completion(payload, service), service)
    if "response" not in payload and "tool_calls" not in payload:
        raise BackendError(f"{service} answered without a response")
    out = _result(payload.get("response"), payload.get("usage"), payload, payload, service)
    reasoning = reasoning_text(payload)  # kept on a re-read: ``run_result`` is idempotent
    if reasoning:
        out["reasoning"] = reasoning
    return out


def _completion_result(payload: dict[str, Any], service: str) -> RunResult:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        error = payload.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        if detail and isinstance(detail, str):
            raise BackendError(f"{service}: {detail[:500]}")
        raise BackendError(f"{service} answered no choice")
    message = choices[0].get("message")
    if message is None:
        message = {}
    if not isinstance(message, dict):
        raise BackendError(f"{service} answered a choice whose message is not an object")
    out = _result(message.get("content"), payload.get("usage"), message, choices[0], service)
    reasoning = reasoning_text(message)
    if reasoning:
        out["reasoning"] = reasoning
    return out


def reasoning_text(message: dict[str, Any]) -> str:
    """A message's or delta's thinking: ``reasoning_content`` (GLM, Qwen3, vLLM) or
    ``reasoning`` (Kimi K2.6 [RN 2026-04-20]); workers-ai-provider reads both [WP-T]."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _result(
    response: Any, raw: Any, calls_from: dict[str, Any], finish_from: dict[str, Any], service: str
) -> RunResult:
    out: RunResult = {"response": response_text(response)}
    counts = usage(raw)
    if counts is not None:
        out["usage"] = counts
    calls = _list(calls_from.get("tool_calls"), f"{service} sent tool_calls")
    if calls:
        out["tool_calls"] = [_binding_call(call) for call in calls]
    if isinstance(finish_from.get("finish_reason"), str):
        out["finish_reason"] = finish_from["finish_reason"]
    if (entries := token_logprobs(finish_from.get("logprobs"))) is not None:
        out["logprobs"] = entries
    return out


def _binding_call(raw: Any) -> Any:
    """A tool call in the binding's shape (OpenAI nests it under ``function``), its id
    kept and its arguments as sent: the generation service judges them (``tool_call``)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
        return raw
    function = raw["function"]
    call = {key: function[key] for key in ("name", "arguments") if function.get(key) is not None}
    if raw.get("id") is not None:
        call["id"] = raw["id"]
    return call


def response_text(response: Any) -> str:
    """The answer as text: JSON mode may answer with the object itself."""
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    return dumps(response)


def token_count(value: Any) -> int | None:
    """A reported token count if it is one: a whole number in ``0..MAX_USAGE_TOKENS``."""
    if isinstance(value, bool):  # JSON true is not 1 token
        return None
    if isinstance(value, float) and value.is_integer():  # 12.0 (inf and nan are not)
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_USAGE_TOKENS:
        return value
    return None


def usage(raw: object) -> Usage | None:
    """The plausible part of the upstream's usage: ``prompt_tokens`` and
    ``completion_tokens`` where each is a count, ``total_tokens`` (their sum) when both
    are; ``None`` when nothing is usable. Negative, huge, fractional, non-numeric or
    infinite values are dropped, never trusted."""
    if not isinstance(raw, dict):
        return None
    counts: Usage = {}
    for name in ("prompt_tokens", "completion_tokens"):
        count = token_count(raw.get(name))
        if count is not None:
            counts[name] = count  # type: ignore[literal-required]
    if not counts:
        return None
    if "prompt_tokens" in counts and "completion_tokens" in counts:
        counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
    # Chat Completions' details [M-glm][AI-TY], each at most the count it is part of
    for outer, inner, within in (
        ("prompt_tokens_details", "cached_tokens", "prompt_tokens"),
        ("completion_tokens_details", "reasoning_tokens", "completion_tokens"),
    ):
        details = raw.get(outer)
        # nested as sent, or flat as this reader keeps it (idempotent, as ``run_result`` is)
        part = token_count(details.get(inner) if isinstance(details, dict) else raw.get(inner))
        if part is not None and within in counts and part <= counts[within]:  # type: ignore[literal-required]
            counts[inner] = part  # type: ignore[literal-required]
    return counts


# --- tool calls: the one rule ----------------------------------------------------------


def tool_call(raw: object) -> ToolCall:
    """A tool call as services and clients get it, from a binding-shaped
    (``{"name", "arguments"}``) or OpenAI-shaped (``{"id", "function": {...}}``) one.

    Arguments: an object, or text that parses to a JSON object; absent or blank is
    ``{}``; anything else is the model's fault (``InvalidModelOutput``, a 502). A call
    that is not an object or names no function is the upstream's (``BackendError``).
    """
    if not isinstance(raw, dict):
        raise BackendError(f"the backend returned a malformed tool call: {raw!r:.200}")
    function = function_of(raw)
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise BackendError("the backend returned a tool call without a function name")
    arguments = function.get("arguments")
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    elif isinstance(arguments, str):
        try:
            arguments = loads(arguments)
        except ValueError:
            arguments = None  # not JSON: refused below, as JSON that is not an object is
    if not isinstance(arguments, dict):
        raise InvalidModelOutput(
            f"the model called '{name[:100]}' with arguments that are not a JSON object"
        )
    call: ToolCall = {"name": name, "arguments": arguments}
    if isinstance(raw.get("id"), str) and raw["id"]:
        call["id"] = raw["id"]
    return call


def openai_tool_call(call: dict[str, Any], *, default_id: str) -> dict[str, Any]:
    """A tool call in OpenAI's outgoing shape (arguments as JSON text), its id kept."""
    function = function_of(call)
    arguments = function.get("arguments")
    return {
        "id": call.get("id") or default_id,
        "type": "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": arguments if isinstance(arguments, str) else dumps(arguments or {}),
        },
    }


# --- stream events ---------------------------------------------------------------------


@dataclass(slots=True)
class StreamEvent:
    """One upstream event in the binding protocol, normalised. ``tool_calls`` holds whole
    calls as sent (binding frames); ``fragments`` the deltas of ``chat.completion.chunk``s."""

    text: str = ""
    #: thinking text (``reasoning_content``/``reasoning`` deltas): never part of ``text``
    reasoning: str = ""
    usage: Usage | None = None
    tool_calls: list[Any] = field(default_factory=list)
    fragments: list[ToolCallFragment] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None


def parse_event(data: str) -> StreamEvent | None:
    """Interpret one ``data`` payload of a binding stream; ``None`` for ``[DONE]``."""
    if data.strip() == DONE:
        return None
    try:
        payload = loads(data)
    except ValueError:
        return StreamEvent(error=f"the backend sent a malformed stream event: {data[:200]!r}")
    if not isinstance(payload, dict):
        return StreamEvent(error="the backend sent a stream event that is not a JSON object")
    try:
        event = StreamEvent(usage=usage(payload.get("usage")), logprobs=event_logprobs(payload))
        if payload.get("error"):
            event.error = _error_text(payload["error"])
        if "choices" in payload:
            _read_chunk(payload, event)
        else:
            event.text = response_text(payload.get("response"))
            event.reasoning = reasoning_text(payload)
            for call in _list(payload.get("tool_calls"), "the backend sent tool_calls"):
                # an ``index`` marks a fragment, merged by index as in chunks (the binding's
                # native tool stream, workers-ai-provider ``processPartialToolCalls`` [WP-T])
                if isinstance(call, dict) and "index" in call:
                    event.fragments.append(_fragment(call))
                else:
                    event.tool_calls.append(call)
            finish = payload.get("finish_reason")
            event.finish_reason = finish if isinstance(finish, str) else None
        return event
    except BackendError as exc:
        return StreamEvent(error=exc.message)


def _read_chunk(payload: dict[str, Any], event: StreamEvent) -> None:
    text: list[str] = []
    thinking: list[str] = []
    for choice in _list(payload.get("choices"), "the backend sent a stream event with choices"):
        if not isinstance(choice, dict):
            raise _malformed("a choice that is not an object")
        delta = _object(choice.get("delta"), "a delta")
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            raise _malformed("delta content that is not a string")
        text.append(content or "")
        thinking.append(reasoning_text(delta))
        for call in _list(delta.get("tool_calls"), "the backend sent tool_calls"):
            event.fragments.append(_fragment(call))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            event.finish_reason = choice["finish_reason"]
    event.text = "".join(text)
    event.reasoning = "".join(thinking)


def _fragment(call: Any) -> ToolCallFragment:
    """One tool-call fragment of a ``chat.completion.chunk``, its types checked."""
    if not isinstance(call, dict):
        raise _malformed("a tool call that is not an object")
    function = _object(call.get("function"), "a tool call function")
    index = call.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _malformed("a tool call index that is not a count")
    call_id, name = call.get("id"), function.get("name")
    if not isinstance(call_id, str | None) or not isinstance(name, str | None):
        raise _malformed("a tool call id or name that is not a string")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        arguments = dumps(arguments)  # some servers send the object itself
    return {"index": index, "id": call_id or "", "name": name or "", "arguments": arguments or ""}


class StreamAssembler:
    """The one merge of a stream's events into a result: usage and finish reason as last
    reported; whole calls in arrival order, then the fragments joined by index (the first
    non-empty id and name kept, the arguments text concatenated). ``service`` prefixes
    the upstream's own error messages."""

    def __init__(self, service: str | None = None) -> None:
        self._service = service
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._calls: list[Any] = []
        self._fragments: dict[int, ToolCallFragment] = {}

    @property
    def finished(self) -> bool:
        """Whether a finish reason was seen (a stream without [DONE] may still be whole)."""
        return self.finish_reason is not None

    def feed(self, event: StreamEvent) -> str:
        """Take in one event; return its text, to pass on. ``BackendError`` on an error."""
        if event.error:
            raise BackendError(f"{self._service}: {event.error}" if self._service else event.error)
        self.usage = event.usage or self.usage
        self.finish_reason = event.finish_reason or self.finish_reason
        self._calls.extend(event.tool_calls)
        for fragment in event.fragments:
            joined = self._fragments.setdefault(fragment["index"], {**fragment, "arguments": ""})
            joined["id"] = joined["id"] or fragment["id"]
            joined["name"] = joined["name"] or fragment["name"]
            joined["arguments"] += fragment["arguments"]
        return event.text

    def result(self) -> RunResult:
        """What the stream said beyond its text, in the binding's shape (``response`` "")."""
        out: RunResult = {"response": ""}
        if self.usage is not None:
            out["usage"] = self.usage
        calls = self._calls + [_whole(self._fragments[i]) for i in sorted(self._fragments)]
        if calls:
            out["tool_calls"] = calls
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        return out


def _whole(fragment: ToolCallFragment) -> dict[str, Any]:
    call: dict[str, Any] = {"name": fragment["name"], "arguments": fragment["arguments"]}
    if fragment["id"]:
        call["id"] = fragment["id"]
    return call


# --- JSON values -----------------------------------------------------------------------


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    if isinstance(message, str) and message.strip():
        return message[:500]
    return "the backend reported an error in its stream"


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BackendError(f"{what} that are not a list")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(f"{what} that is not an object")
    return value


def _malformed(what: str) -> BackendError:
    return BackendError(f"the backend sent a stream event with {what}")
