"""Timeouts for streams: one timer per stream instead of one per awaited chunk.

``asyncio.timeout`` arms and cancels a timer on every use, and on Python 3.11 looks up
the running loop several times (each a ``getpid()`` system call): about 8–10 µs per use
on the benchmark machine, paid on every streamed chunk, twice (the upstream read and the
total deadline). A :class:`Watchdog` arms one timer and re-arms it only when it fires
early; each wait costs a few attribute writes. Host-neutral (plain asyncio): it runs on
Pyodide's loop as on uvloop.

    watchdog = Watchdog(30.0, idle=True)   # idle: the limit restarts with every wait
    try:
        while ...:
            task = watchdog.start()        # raises TimeoutError once expired
            try:
                data = await read()
            except asyncio.CancelledError:
                if watchdog.expired_on(task):
                    raise TimeoutError from None
                raise
            finally:
                watchdog.stop()
    finally:
        watchdog.close()
"""

from __future__ import annotations

import asyncio


class Watchdog:
    """Cancels the task waiting between :meth:`start` and :meth:`stop` once the limit passes.

    ``idle=False``: one deadline, ``limit_s`` from now, for every wait together (a
    whole answer's budget). ``idle=True``: each wait gets ``limit_s`` of its own (no
    bytes for that long), and time spent outside waits never counts.
    """

    __slots__ = (
        "_cancelling",
        "_deadline",
        "_fired_on",
        "_handle",
        "_idle",
        "_limit",
        "_loop",
        "_task",
    )

    def __init__(self, limit_s: float, *, idle: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit_s
        self._idle = idle
        self._deadline = self._loop.time() + limit_s
        self._task: asyncio.Task | None = None  # the task waiting now, if any
        self._cancelling = 0
        self._fired_on: asyncio.Task | None = None  # the task this watchdog cancelled
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._deadline, self._fire)

    @property
    def expired(self) -> bool:
        return not self._idle and self._handle is None

    def start(self) -> asyncio.Task:
        """Mark the current task as waiting; raises ``TimeoutError`` if no time is left."""
        if self.expired:
            raise TimeoutError
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Watchdog.start() outside a task")
        if self._idle:
            self._deadline = self._loop.time() + self._limit
            if self._handle is None:
                self._handle = self._loop.call_at(self._deadline, self._fire)
        self._task = task
        self._cancelling = task.cancelling()
        return task

    def stop(self) -> None:
        self._task = None

    def expired_on(self, task: asyncio.Task) -> bool:
        """Whether a ``CancelledError`` that ``task`` just got is this watchdog's doing
        (then it is withdrawn, and the caller raises its timeout instead)."""
        if self._handle is not None or self._fired_on is not task:
            return False
        return task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        if self._loop.time() < self._deadline:  # idle: a later wait moved the deadline
            self._handle = self._loop.call_at(self._deadline, self._fire)
            return
        self._handle = None
        task, self._task = self._task, None
        if task is not None:
            self._fired_on = task
            task.cancel()
