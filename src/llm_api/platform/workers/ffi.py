"""The JS boundary on workerd: the conversions ``platform.workers`` and ``workers_state`` share.

Worker path only: ``js`` and ``pyodide`` exist only in workerd (tests fake them).
Bindings reach Python in one of two shapes, depending on the workers SDK: wrapped
(SDK >= 1.5: Python arguments are converted for us and results come back as dict
subclasses) or raw (``JsProxy`` results, which want ``to_py()``). Everything here works
under both, so the app never depends on which SDK pywrangler vendored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import js
from pyodide.ffi import JsException, to_js

try:
    from pyodide.ffi import jsnull
except ImportError:  # Pyodide < 0.26 turns JS null into None itself
    jsnull = None

__all__ = ["JsException", "js_object", "js_type", "jsnull", "plain", "to_py"]


def js_object(value: Mapping[str, Any]) -> Any:
    """A plain JS object, as bindings want: ``to_js`` alone makes a ``Map``, which they reject.

    A wrapped binding would convert a dict itself, but passes a JS object through
    untouched, and a raw one needs it; converting here is right under both. No
    PyProxies: the values are JSON data, and a proxy nobody destroys would leak.
    """
    return to_js(value, dict_converter=js.Object.fromEntries, create_pyproxies=False)


def js_type(value: Any) -> str | None:
    """The JS constructor's name (``"ReadableStream"``...), or None for a Python value."""
    constructor = getattr(value, "constructor", None)
    return getattr(constructor, "name", None)


def to_py(value: Any) -> Any:
    """Plain Python data from a binding's result, wrapped SDK or raw ``JsProxy`` alike."""
    if value is jsnull:
        return None
    if not isinstance(value, dict | list) and hasattr(value, "to_py"):
        value = value.to_py()
    return plain(value)


def plain(value: Any) -> Any:
    """Dicts, lists and scalars only: JS null becomes None, dict subclasses plain dicts."""
    if value is jsnull:
        return None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
