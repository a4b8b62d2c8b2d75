"""Stop a request's work when its client goes away before the answer starts.

A non-streaming generation runs for seconds before its first byte is sent; a client
that gives up meanwhile (a closed tab, a timeout) would leave the model busy for
nobody. Once the app has read the whole body, a watcher keeps listening on
``receive()`` for ``http.disconnect`` and cancels the request's task: the backend call
is cancelled with it, as on a timeout. After the answer has started this does nothing:
streams stop on their own when their client leaves (Starlette listens too), and a
finished answer needs no cancelling. On Workers the adapter only reports a disconnect
once the response is handed over, so nothing is ever cancelled there.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("llm_api")

#: how long a request may run past its body before its client's disconnect is watched for
WATCH_AFTER_S = 0.05


class CancelOnDisconnectMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        watch = _Watch(receive, task)

        async def send_tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                watch.answered = True
            await send(message)

        try:
            await self.app(scope, watch.receive, send_tracked)
        except asyncio.CancelledError:
            # Ours alone: swallow it (nobody is left to answer). Anyone else's: go on.
            if not watch.cancelled or task.uncancel() > 0:
                raise
            logger.info(
                "%s %s: the client went away, request cancelled", scope["method"], scope["path"]
            )
        else:
            if watch.cancelled:  # the app swallowed our cancellation itself
                task.uncancel()
        finally:
            await watch.aclose()


class _Watch:
    """The app's ``receive``: the body as it comes, then one watcher for the disconnect.

    The watcher (a task) starts only once the request has run ``WATCH_AFTER_S`` past its
    body, or when the app itself listens: most requests are answered sooner, and a task
    per request would cost them a sixth of their CPU time (bench/cpu.py).
    """

    def __init__(self, receive: Receive, task: asyncio.Task[object]) -> None:
        self._receive = receive
        self._task = task
        self._body_done = False
        self._timer: asyncio.TimerHandle | None = None
        self._gone: asyncio.Future[Message] | None = None  # the disconnect message
        self._watcher: asyncio.Task[None] | None = None
        self.answered = False
        self.cancelled = False
        self._closed = False

    async def receive(self) -> Message:
        if self._body_done:
            # After the body only a disconnect can come; the watcher alone waits for it.
            gone = self._start()
            return await asyncio.shield(gone)
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._body_done = True
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._start)
        return message

    def _start(self) -> asyncio.Future[Message]:
        if self._gone is None:
            if self._timer is not None:
                self._timer.cancel()
            self._gone = asyncio.get_running_loop().create_future()
            self._watcher = asyncio.ensure_future(self._watch(self._gone))
        return self._gone

    async def _watch(self, gone: asyncio.Future[Message]) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        gone.set_result(message)
        if not (self.answered or self._closed):
            self.cancelled = True
            self._task.cancel()

    async def aclose(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            await asyncio.wait([self._watcher])  # gone with its request, not after it
