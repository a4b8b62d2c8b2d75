"""How the CPython host runs: which event loop, and the garbage collector after start-up.

CPython host only (the Worker's loop and heap belong to workerd/Pyodide). Both choices
come from the gateway benchmark (bench/README.md): uvloop costs less CPU per request and
per streamed chunk than asyncio's loop, and freezing what start-up allocated keeps the
collector's occasional full passes from walking every module, class and schema again —
those passes took 20–40 ms each here, a pause for every request in flight.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable


class LoopUnavailable(RuntimeError):
    pass


def event_loop_factory(choice: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when asked for or (``auto``) when installed; None: asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise LoopUnavailable("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def freeze_startup_objects() -> int:
    """Collect once, then move every object alive now out of the collector's sight.

    What start-up built (modules, routes, pydantic validators, the model's bindings)
    lives as long as the process, so scanning it again on each full collection is pure
    pause. Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
