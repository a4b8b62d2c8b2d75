"""Judging a backend's answer: whole results, usage counted, JSON required, text sendable.

Every binding's result reaches the generation service through here, so these rules hold
for every backend and host: a result of the wrong shape is a ``BackendError`` (a 502,
the upstream's fault; read by ``binding.events``), and usage is counted, never trusted
(``counted_usage``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from llm_api.binding import events
from llm_api.binding.events import loads
from llm_api.binding.protocol import RunResult, Usage
from llm_api.errors import BackendError, InvalidModelOutput

logger = logging.getLogger("llm_api.generation")

#: Rough characters per token, used to refuse prompts that cannot possibly fit before
#: paying for a model call (backends still enforce the exact limit), and to estimate the
#: usage a backend did not report (or reported absurdly).
CHARS_PER_TOKEN_LOW_ESTIMATE = 4
#: A reported count above this many context windows is not believed: a request cannot
#: use more than one window; the slack covers a catalog that understates an upstream's.
USAGE_CONTEXT_WINDOWS = 2

_BACKEND = "the backend"


def answer_of(result: object) -> RunResult:
    """A whole result in the binding's shape, whichever binding sent it."""
    if not isinstance(result, dict) and hasattr(result, "__aiter__"):
        raise BackendError("the backend returned a stream for a non-streaming request")
    return events.run_result(result, service=_BACKEND)


def counted_usage(
    raw: Any, *, context_window: int, prompt_chars: int, text: str, tool_calls: list[Any]
) -> tuple[Usage, bool]:
    """The request's usage, and whether any of it is estimated.

    A count the backend did not report, or reported implausibly (not a whole number in
    range, more than ``USAGE_CONTEXT_WINDOWS`` context windows, a zero-token prompt, zero
    completion tokens for an answer), is estimated from the text instead: billing what an
    upstream claims (negative, 1e30) is worse than billing a rough count.
    """
    reported = events.usage(raw) or {}
    bound = USAGE_CONTEXT_WINDOWS * context_window
    prompt = reported.get("prompt_tokens")
    if prompt is not None and not 0 < prompt <= bound:
        prompt = None
    completion = reported.get("completion_tokens")
    answered = bool(text or tool_calls)
    if completion is not None and (completion > bound or (completion == 0 and answered)):
        completion = None
    estimated = prompt is None or completion is None
    if estimated and raw is not None:
        logger.warning("implausible usage from the backend, estimated instead: %.200r", raw)
    if prompt is None:
        prompt = max(1, prompt_chars // CHARS_PER_TOKEN_LOW_ESTIMATE)
    if completion is None:
        produced = len(text) + sum(_chars(call) for call in tool_calls)
        completion = -(-produced // CHARS_PER_TOKEN_LOW_ESTIMATE)  # rounded up: 1 for "a"
    counted: Usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    # the details, where reported, as parts of trusted counts (``events.usage`` read them
    # flat): a detail of a count replaced by our estimate is dropped with it
    for part, key, whole in (
        ("cached_tokens", "prompt_tokens", prompt),
        ("reasoning_tokens", "completion_tokens", completion),
    ):
        value = reported.get(part)
        if isinstance(value, int) and value <= whole and reported.get(key) == whole:
            counted[part] = value  # type: ignore[literal-required]
    return counted, estimated


def well_formed(value: Any) -> Any:
    """``value`` with each lone UTF-16 surrogate in its strings replaced by U+FFFD.

    JSON may carry ``"\\ud800"``; UTF-8 cannot, so a whole answer holding one could not
    be sent. (Streams keep them, escaped: the pair's other half may be in the next event.)
    """
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {well_formed(key): well_formed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [well_formed(item) for item in value]
    return value


def well_formed_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not calls:
        return calls
    try:
        json.dumps(calls, ensure_ascii=False).encode()
        return calls
    except UnicodeEncodeError:
        try:
            return well_formed(calls)  # type: ignore[no-any-return]
        except RecursionError:
            raise BackendError("the backend sent tool arguments nested too deeply") from None


def require_json(text: str, finish_reason: str) -> None:
    """A JSON answer must be JSON, unless the caller's own ``max_tokens`` cut it: that is
    a 200 with ``finish_reason: "length"`` and the partial text, as OpenAI answers (the
    SDK's ``parse()`` then raises ``LengthFinishReasonError``), never a 5xx, which every
    SDK would retry, sending the same doomed request again."""
    if finish_reason == "length":
        return
    try:
        loads(text)
    except ValueError:
        raise InvalidModelOutput(
            "the model did not return valid JSON although response_format asked for it; "
            "retrying may help"
        ) from None


def _chars(call: Any) -> int:
    try:
        return len(json.dumps(call, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        return 0
