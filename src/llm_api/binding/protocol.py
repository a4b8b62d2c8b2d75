"""The AI binding protocol (Workers AI's own ``env.AI.run``) and the platform object."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from llm_api.keys import KeyStore
from llm_api.ratelimit import Decision
from llm_api.settings import Settings
from llm_api.usage import UsageStore

#: ``run`` returns this for ``inputs["stream"] = False``:
#: ``{"response": str, "usage": {...}, "tool_calls"?: [{"name", "arguments": dict}],
#: "finish_reason"?: "stop" | "length" | "tool_calls"}``
RunResult = dict[str, Any]

#: ... and this for ``inputs["stream"] = True``: SSE bytes, chunked anyhow —
#: ``data: {"response": "..."}`` per token, a final event with ``usage`` (and
#: ``tool_calls``/``finish_reason`` when known), then ``data: [DONE]``. An async
#: generator, so a reader that stops early closes it with ``aclose()``.
SSEByteStream = AsyncGenerator[bytes, None]


@runtime_checkable
class AIBinding(Protocol):
    """Anything with Workers AI's ``run``: the real binding, or a local backend.

    ``engine`` names the engine that really answers, for the ``x-llm-backend`` header.
    Backends raise ``llm_api.errors.BackendError`` subclasses (or ``InvalidRequest`` /
    ``ModelNotFound`` for what the upstream rejects) — never bare exceptions.
    """

    engine: str

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream: ...


class RateLimiter(Protocol):
    """Admits or refuses one request for a key (a sliding window of ``limit`` per minute)."""

    async def hit(self, key_id: str, limit: int) -> Decision: ...


@dataclass(slots=True)
class Platform:
    ai: AIBinding
    settings: Settings
    keys: KeyStore
    limiter: RateLimiter
    usage: UsageStore


#: How the app finds the platform for a request: the local host returns one fixed
#: object; the Worker builds (and caches) one from ``scope["env"]``.
PlatformProvider = Callable[[MutableMapping[str, Any]], Platform]


def fixed_platform(platform: Platform) -> PlatformProvider:
    def provide(scope: MutableMapping[str, Any]) -> Platform:
        return platform

    return provide
