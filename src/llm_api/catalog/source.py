"""One host's catalog: the built-in table, the successor pins from the settings, and the
account's live list (where the host can list models), refreshed through a TTL cache.

Each ``Platform`` holds one (``Platform.catalog``): the Worker's per isolate (and env), the
CPython host's per process. ``current()`` is what a request resolves models against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from llm_api.catalog.cache import LiveCatalogCache
from llm_api.catalog.lifecycle import parse_successor_setting
from llm_api.catalog.live import LiveModel, parse_entries
from llm_api.catalog.model import ModelInfo
from llm_api.catalog.table import TABLE
from llm_api.catalog.view import Catalog

#: lists the account's models: the raw entries (``env.AI.models()``'s array, REST pages joined)
ListModels = Callable[[], Awaitable[list[Any]]]


class HostCatalog:
    """The merged view of one host, and how it is kept fresh. ``answered_by``: the model
    that answers every id on this host (the embedded backend's, ``EMBEDDED_MODEL``)."""

    def __init__(
        self,
        *,
        successors: str | None = None,
        list_models: ListModels | None = None,
        cache: LiveCatalogCache | None = None,
        answered_by: ModelInfo | None = None,
    ) -> None:
        table = Catalog(TABLE)
        #: ``LLM_API_MODEL_SUCCESSORS``, read against the table (a live-only model takes its
        #: full ``@cf/...`` id there); a bad entry is a start-up ``ModelConfigError``
        pins = parse_successor_setting(successors, table.get)
        self.catalog = Catalog(TABLE, successors=pins, answered_by=answered_by)
        self.list_models = list_models
        self.cache = cache or LiveCatalogCache()

    @property
    def live(self) -> bool:
        return self.list_models is not None

    async def current(self) -> Catalog:
        """The view, the live list reloaded first when the cache says it is due. A failed
        listing keeps the last good copy (the table at worst): see ``LiveCatalogCache``."""
        if self.list_models is not None:
            await self.catalog.refresh(self.cache, self._load)
        return self.catalog

    async def _load(self) -> list[LiveModel]:
        assert self.list_models is not None
        return parse_entries(await self.list_models())
