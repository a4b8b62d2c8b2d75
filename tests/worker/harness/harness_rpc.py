"""The calls workerd's Python entrypoint makes into a Worker's classes, for the harness.

workerd calls a method of a ``WorkerEntrypoint`` or ``DurableObject`` through its
``introspection.wrapper_func``: each JS argument goes through the SDK's
``python_from_rpc`` (a JS ``Request`` becomes ``workers.Request``, objects become dicts),
the result through ``python_to_rpc``; ``fetch`` is called "relaxed" (extra arguments
dropped). ``call_method`` does the same, so the harness converts exactly as the runtime.
Loaded into Pyodide by ``runtime.mjs``; never imported by the app.
"""

from __future__ import annotations

from inspect import isawaitable
from typing import Any

from pyodide.code import relaxed_call
from workers import python_from_rpc, python_to_rpc


async def call_method(relaxed: bool, instance: Any, name: str, *args: Any) -> Any:
    method = getattr(instance, name)
    py_args = [python_from_rpc(arg) for arg in args]
    result = relaxed_call(method, *py_args) if relaxed else method(*py_args)
    if isawaitable(result):
        result = await result
    return python_to_rpc(result)
