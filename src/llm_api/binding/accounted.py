"""Per-key model permissions and usage recording, passed explicitly to the services.

A request's ``Caller`` (services/generation.py) carries an ``Account``: the generation
service asks it to ``authorize`` the model before any model call and to ``record`` the
usage once it is known (at the end of a stream for streams), so every family and
endpoint is checked and counted, whatever wraps the binding.
"""

from __future__ import annotations

import logging
from typing import Protocol

from llm_api.binding.protocol import Usage
from llm_api.catalog import TABLE_CATALOG, Catalog
from llm_api.errors import Forbidden
from llm_api.keys import KeyRecord
from llm_api.usage import UsageStore, utc_day

logger = logging.getLogger("llm_api.binding.accounted")


class Account(Protocol):
    def authorize(self, model: str) -> None:
        """Raise ``Forbidden`` (403) if this caller may not use ``model``."""

    async def record(self, model: str, usage: Usage, *, estimated: bool = False) -> None:
        """Record ``usage`` (validated by the generation service; ``estimated`` when some
        of it is our estimate rather than the backend's count). Never raises."""


class KeyAccount:
    """An API key's account: its allowed models, its usage in ``store``."""

    def __init__(self, key: KeyRecord, store: UsageStore, catalog: Catalog | None = None) -> None:
        self.key = key
        self.store = store
        #: the host's catalog, for the prices of models only its live list knows
        self.catalog = catalog or TABLE_CATALOG

    def authorize(self, model: str) -> None:
        if not self.key.allows_model(model):
            raise Forbidden(f"model: this API key may not use '{model}'", param="model")

    async def record(self, model: str, usage: Usage, *, estimated: bool = False) -> None:
        prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
        # cached prompt tokens at the cached rate where the catalog knows it (facts-14 §4)
        cached = usage.get("cached_tokens", 0)
        info = self.catalog.get(model)
        try:
            await self.store.record(
                self.key.key_id,
                day=utc_day(),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=info.estimated_cost(prompt, completion, cached) if info else 0.0,
                estimated=estimated,
            )
        except Exception:
            # Losing one usage record must not fail an answer the client already has.
            logger.exception("could not record usage for key %s", self.key.key_id)


class _Unmetered:
    """No key (routes outside the API roots, tests): every model, nothing recorded."""

    def authorize(self, model: str) -> None:
        return None

    async def record(self, model: str, usage: Usage, *, estimated: bool = False) -> None:
        return None


UNMETERED: Account = _Unmetered()
