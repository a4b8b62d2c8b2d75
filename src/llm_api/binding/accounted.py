"""Per-key model permissions and usage recording, around the AI binding.

The platform dependency wraps the binding in ``AccountedAI`` for an authenticated
request; the generation service reports usage through ``report_usage`` once it is
known (at the end of a stream for streams), so every family and endpoint is counted.
"""

from __future__ import annotations

import logging
from typing import Any

from llm_api.binding.protocol import AIBinding, RunResult, SSEByteStream
from llm_api.catalog import resolve_model
from llm_api.errors import Forbidden
from llm_api.keys import KeyRecord
from llm_api.usage import UsageStore, utc_day

logger = logging.getLogger("llm_api.binding.accounted")


class AccountedAI:
    def __init__(self, inner: AIBinding, key: KeyRecord, usage: UsageStore) -> None:
        self.inner = inner
        self.key = key
        self.usage = usage
        self.engine = inner.engine

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream:
        if not self.key.allows_model(model):
            raise Forbidden(f"model: this API key may not use '{model}'", param="model")
        return await self.inner.run(model, inputs, options)

    async def report_usage(
        self, model: str, usage: dict[str, int], *, estimated: bool = False
    ) -> None:
        prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
        try:
            await self.usage.record(
                self.key.key_id,
                day=utc_day(),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=resolve_model(model).estimated_cost(prompt, completion),
                estimated=estimated,
            )
        except Exception:
            # Losing one usage record must not fail an answer the client already has.
            logger.exception("could not record usage for key %s", self.key.key_id)


async def report_usage(
    ai: AIBinding, model: str, usage: dict[str, int], *, estimated: bool = False
) -> None:
    """Record ``usage`` (validated by the generation service; ``estimated`` when some of
    it is our estimate rather than the backend's count) if ``ai`` keeps accounts."""
    reporter = getattr(ai, "report_usage", None)
    if reporter is not None:
        await reporter(model, usage, estimated=estimated)
