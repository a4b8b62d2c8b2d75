"""The Worker host: workerd hands each request to ``Default.fetch``.

The only module that imports ``workers``. The app is built once per isolate, here at
import (workerd snapshots imports, so nothing here may be random or do I/O); its
platform is built from ``env`` on the first request (``llm_api.platform.workers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers import Request, WorkerEntrypoint, asgi

from llm_api.app import create_app
from llm_api.platform.workers import workers_platform_provider

if TYPE_CHECKING:
    import js

app = create_app(workers_platform_provider)


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> js.Response:
        # The SDK's adapter reads the body, runs the app with ``scope["env"] = self.env``,
        # and turns a response sent in several parts into a streaming Response.
        return await asgi.fetch(app, request, self.env)
