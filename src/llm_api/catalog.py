"""The model catalog: ids, aliases, context windows, capabilities, prices and retirements.

The table is in ``catalog_table``; the live list (``catalog_live``), the merged view
(``catalog_view.Catalog``) and its cache (``catalog_cache``) sit next to it. The functions here
work on the built-in table alone: a host that reads the live list builds its own ``Catalog``.
"""

from __future__ import annotations

from llm_api.catalog_lifecycle import (
    ModelConfigError,
    deprecation_header,
    parse_successor_setting,
    sunset_header,
)
from llm_api.catalog_model import CLOUDFLARE_PREFIX, IoShape, ModelInfo, ReasoningEffort
from llm_api.catalog_table import RETIRED_2026_05_30, SEED_MODELS, TABLE
from llm_api.catalog_view import Catalog

__all__ = [
    "CLOUDFLARE_PREFIX",
    "DEFAULT_MODEL",
    "FAST_MODEL",
    "MODELS",
    "RETIRED_2026_05_30",
    "TABLE",
    "Catalog",
    "IoShape",
    "ModelConfigError",
    "ModelInfo",
    "ReasoningEffort",
    "deprecation_header",
    "known_ids",
    "parse_successors",
    "resolve_model",
    "serving_model",
    "successor",
    "sunset_header",
]

#: The seed's six, in the seed's order: what ``/api/llm/models`` and ``/v1/models`` list until
#: the listing is wired to the merged catalog. Every id of ``TABLE`` resolves.
MODELS: tuple[ModelInfo, ...] = SEED_MODELS

DEFAULT_MODEL = "llama-3.2-3b-instruct"
#: JSON-schema mode and speed: the default for structured jobs such as prompt optimisation
FAST_MODEL = "llama-3.3-70b-instruct-fp8-fast"

#: the built-in table's view; never updated (a host reading the live list keeps its own)
TABLE_CATALOG = Catalog(TABLE)


def known_ids() -> list[str]:
    return TABLE_CATALOG.known_ids()


def resolve_model(model_id: str, *, param: str = "model") -> ModelInfo:
    """Find a model by short id (``llama-3.2-3b-instruct``) or full id (``@cf/meta/...``)."""
    return TABLE_CATALOG.resolve(model_id, param=param)


def successor(model: ModelInfo, *, successors: dict[str, str] | None = None) -> ModelInfo | None:
    """The active model that answers for a retired one (pins from ``parse_successors`` first)."""
    return _catalog(successors).successor(model)


def serving_model(
    model: ModelInfo, *, successors: dict[str, str] | None = None
) -> ModelInfo | None:
    """The model that answers for ``model``: itself while active, else its successor; None
    when it is retired and nothing answers for it."""
    return _catalog(successors).serving_model(model)


def parse_successors(raw: str | None, *, catalog: Catalog | None = None) -> dict[str, str]:
    """The ``LLM_API_MODEL_SUCCESSORS`` setting (``retired=successor,...``) as full ids;
    ``ModelConfigError`` (a ``ValueError``) names a bad entry."""
    return parse_successor_setting(raw, (catalog or TABLE_CATALOG).get)


def _catalog(successors: dict[str, str] | None) -> Catalog:
    return Catalog(TABLE, successors=successors) if successors else TABLE_CATALOG
