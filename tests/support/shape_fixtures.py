"""The I/O-shape fixtures (tests/support/fixtures/workers_ai/README.md names their sources)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.paths import WORKERS_AI_FIXTURES


def whole(name: str) -> Any:
    """A whole answer (``<name>.json``) as the binding returns it."""
    return json.loads((WORKERS_AI_FIXTURES / f"{name}.json").read_text())


def stream_bytes(name: str) -> bytes:
    return (WORKERS_AI_FIXTURES / f"{name}.sse").read_bytes()


def stream_chunks(name: str, size: int = 7) -> list[bytes]:
    """``<name>.sse`` cut into small chunks, so that parsing meets awkward boundaries."""
    data = stream_bytes(name)
    return [data[i : i + size] for i in range(0, len(data), size)]
