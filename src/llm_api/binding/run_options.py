"""The binding's third argument (``env.AI.run(model, inputs, options)``), host-neutral.

* ``rejectIfBusy: true`` on every Workers AI call, so that a model without capacity fails
  at once with 3040 (which we retry with backoff) instead of queueing (facts-14 §3, [RIB]).
* ``extraHeaders: {"x-session-affinity": <conversation id>}``: Workers AI routes requests of
  one session to the same replica, so its prompt prefix cache is hit (facts-14 §4, [PC]).
  The binding merges ``extraHeaders`` into its request headers and strips them from the
  body ([AI] ai-api.ts); the REST backend sends them as HTTP headers.

Where the session id comes from: OpenAI's ``prompt_cache_key`` on ``/v1/chat/completions``,
else the client's own ``x-session-affinity`` header on any family (``http.dependencies``).
"""

from __future__ import annotations

import re
from typing import Any

from llm_api.errors import InvalidRequest

SESSION_HEADER = "x-session-affinity"
MAX_SESSION_CHARS = 256
#: printable ASCII: the value becomes an HTTP header, so no control characters
_SESSION = re.compile(r"[\x20-\x7e]+")
#: options the binding itself consumes; the rest go in the REST body's ``options`` ([AI])
BINDING_ONLY = frozenset({"gateway", "extraHeaders", "prefix", "returnRawResponse"})


def session_affinity(value: str | None, *, param: str = SESSION_HEADER) -> str | None:
    """A client's conversation id as the header value to send, or None; a 400 for a value
    that cannot be one (too long, control characters or non-ASCII)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_SESSION_CHARS or not _SESSION.fullmatch(value):
        raise InvalidRequest(
            f"{param}: at most {MAX_SESSION_CHARS} printable ASCII characters", param=param
        )
    return value


def session_options(session: str | None) -> dict[str, Any] | None:
    """The options that carry ``session`` (None when there is none)."""
    return {"extraHeaders": {SESSION_HEADER: session}} if session else None


def workers_ai_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` as Workers AI gets them: ``rejectIfBusy`` set unless the caller said."""
    return {"rejectIfBusy": True, **(options or {})}


def extra_headers(options: dict[str, Any]) -> dict[str, str]:
    """The string-valued ``extraHeaders`` of ``options`` (anything else is dropped)."""
    raw = options.get("extraHeaders")
    if not isinstance(raw, dict):
        return {}
    return {
        str(name).lower(): value
        for name, value in raw.items()
        if isinstance(value, str) and _SESSION.fullmatch(value)
    }


def body_options(options: dict[str, Any]) -> dict[str, Any]:
    """What the REST body's ``options`` carries: the options the binding would forward."""
    return {key: value for key, value in options.items() if key not in BINDING_ONLY}
