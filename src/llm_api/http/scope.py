"""Reading request headers straight from an ASGI scope (for pure ASGI middleware)."""

from __future__ import annotations

from starlette.types import Scope


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None
