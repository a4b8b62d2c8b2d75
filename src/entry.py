"""The Worker host: workerd hands each request to ``Default.fetch``.

The only module that imports ``workers``. The app is built once per isolate, here at
import (workerd snapshots imports, so nothing here may be random or do I/O); its
platform is built from ``env`` on the first request (``llm_api.platform.workers.provider``).
``RateLimiter`` is the per-key Durable Object (bound as ``RATE_LIMITER``) that
``llm_api.platform.workers.state`` calls over RPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workers import DurableObject, Request, WorkerEntrypoint, asgi

from llm_api.app import create_app
from llm_api.platform.workers.durable_object import RateLimiterState
from llm_api.platform.workers.provider import WorkersProvider

if TYPE_CHECKING:
    import js

provider = WorkersProvider()  # one per isolate: it caches the platform of each env
app = create_app(provider)


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> js.Response:
        # The SDK's adapter reads the body, runs the app with ``scope["env"] = self.env``,
        # and turns a response sent in several parts into a streaming Response. ``ctx``:
        # older adapters keep a streamed response alive with ``ctx.waitUntil``.
        return await asgi.fetch(app, request, self.env, self.ctx)


class RateLimiter(DurableObject):
    """One API key's sliding window, daily usage and stored responses, in the object's
    own SQLite.

    One object per key id (``getByName(key_id)``). Its public methods are the RPC
    interface; each runs to completion without awaiting, so a check-and-count is atomic.
    Arguments and results are JSON-safe (the runtime converts them at the boundary).
    """

    def __init__(self, ctx: js.DurableObjectState, env: js.Env) -> None:
        super().__init__(ctx, env)
        # The JS storage itself, not the SDK's wrapper around it (SDK >= 1.5): sql.exec takes
        # plain ints and strings, and RateLimiterState reads raw cursors; the wrapper's
        # conversion of every argument and result cost CPU on every hit (bench/README.md).
        self._state = RateLimiterState(getattr(self.ctx, "_ctx", self.ctx).storage)

    async def hit(self, limit: int) -> dict[str, Any]:
        return self._state.hit(limit)

    async def record_usage(
        self,
        day: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool = False,
    ) -> None:
        self._state.record_usage(day, prompt_tokens, completion_tokens, cost_usd, estimated)

    async def usage(self, days: int, today: str | None = None) -> list[dict[str, Any]]:
        return self._state.usage(days, today)

    async def save_response(self, response_id: str, record: str, created_at: int) -> None:
        self._state.save_response(response_id, record, created_at)

    async def load_response(self, response_id: str) -> str | None:
        return self._state.load_response(response_id)

    async def delete_response(self, response_id: str) -> bool:
        return self._state.delete_response(response_id)
