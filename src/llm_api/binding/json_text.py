"""JSON text from and to upstreams, with their failures typed (``binding.events`` reads
every result and event through these)."""

from __future__ import annotations

import json
from typing import Any

from llm_api.errors import BackendError


def dumps(value: Any) -> str:
    """A JSON value back as text; what cannot be is the upstream's fault."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested beyond reason
        raise BackendError("the upstream sent a value that is not JSON") from None


def loads(text: str) -> Any:
    """``json.loads``, with too deep a nesting reported as the ``ValueError`` it is."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
