"""Loaded by bench/gc_pauses.py into the server it starts (PYTHONPATH=bench/gc_site).

Writes each garbage collection's generation and duration to stderr (the server's log);
with BENCH_NO_FREEZE=1 it turns ``gc.freeze`` into a no-op, for the "without" side.
"""

import gc
import os
import sys
import time

_started = [0.0]


def _log(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        took = (time.perf_counter() - _started[0]) * 1000
        sys.stderr.write(f"GC gen{info['generation']} {took:.3f}\n")


gc.callbacks.append(_log)
if os.environ.get("BENCH_NO_FREEZE"):
    gc.freeze = lambda: None
