"""Token log-probabilities in a backend's result or stream event (OpenAI's ``logprobs``).

Not part of Workers AI's protocol (none of its models returns them): a binding that can
give them (``AIBinding.features`` has ``"logprobs"``) puts OpenAI's content entries under
``logprobs`` in its result or token events. An OpenAI-compatible upstream sends them under
each choice as ``{"content": [...], "refusal": ...}``; both forms are read here, for
``binding.events``, into one list of ``TokenLogprob``.
"""

from __future__ import annotations

import math
from typing import Any

from llm_api.binding.protocol import TokenLogprob, TopLogprob
from llm_api.errors import BackendError

#: OpenAI allows at most this many alternatives per token (``top_logprobs``: 0..20)
MAX_TOP_LOGPROBS = 20
#: the bytes of one token: far beyond any vocabulary's longest token
MAX_TOKEN_BYTES = 1024
#: a log-probability this far above 0 is float rounding (of a certain token), kept as 0
ROUNDING = 1e-4


def token_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """A result's or choice's ``logprobs`` (a list of entries, or OpenAI's object holding
    them as ``content``); ``None`` when it has none. Anything malformed is the upstream's
    fault (``BackendError``)."""
    if isinstance(raw, dict):
        raw = raw.get("content")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise _malformed("logprobs that are not a list")
    entries: list[TokenLogprob] = []
    for item in raw:
        chosen = _top(item)
        alternatives = item.get("top_logprobs") or []
        if not isinstance(alternatives, list):
            raise _malformed("top_logprobs that are not a list")
        top = [_top(alt) for alt in alternatives[:MAX_TOP_LOGPROBS]]
        entries.append(TokenLogprob(**chosen, top_logprobs=top))
    return entries


def event_logprobs(payload: dict[str, Any]) -> list[TokenLogprob]:
    """The entries of one stream event: the binding's ``logprobs``, or those of a
    ``chat.completion.chunk``'s choices (in order)."""
    choices = payload.get("choices")
    if not isinstance(choices, list):
        return token_logprobs(payload.get("logprobs")) or []
    entries: list[TokenLogprob] = []
    for choice in choices:
        if isinstance(choice, dict):
            entries += token_logprobs(choice.get("logprobs")) or []
    return entries


def _top(item: Any) -> TopLogprob:
    if not isinstance(item, dict):
        raise _malformed("a logprobs entry that is not an object")
    token, logprob, raw_bytes = item.get("token"), item.get("logprob"), item.get("bytes")
    if not isinstance(token, str):
        raise _malformed("a logprobs token that is not a string")
    number = isinstance(logprob, int | float) and not isinstance(logprob, bool)
    if not number or not math.isfinite(logprob) or logprob > ROUNDING:
        raise _malformed("a logprob that is not a log-probability")
    if raw_bytes is not None and not _byte_list(raw_bytes):
        raise _malformed("logprobs bytes that are not a list of bytes")
    return {"token": token, "logprob": min(0.0, float(logprob)), "bytes": raw_bytes}


def _byte_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_TOKEN_BYTES
        and all(type(byte) is int and 0 <= byte <= 255 for byte in value)
    )


def _malformed(what: str) -> BackendError:
    return BackendError(f"the backend sent {what}")
