"""The model catalog: ids, aliases, context windows, capabilities, prices and retirements.

The table is in ``catalog_table``; the live list (``catalog_live``), the merged view
(``catalog_view.Catalog``) and its cache (``catalog_cache``) sit next to it. The functions here
work on the built-in table alone: a host that reads the live list builds its own ``Catalog``.
"""

from __future__ import annotations

from llm_api.catalog.lifecycle import (
    ModelConfigError,
    deprecation_header,
    parse_successor_setting,
    sunset_header,
)
from llm_api.catalog.model import (
    CLOUDFLARE_PREFIX,
    IoShape,
    JsonParam,
    ModelInfo,
    ReasoningEffort,
)
from llm_api.catalog.table import EMBEDDED_MODEL, RETIRED_2026_05_30, SEED_MODELS, TABLE
from llm_api.catalog.view import Catalog, infer_io_shape

__all__ = [
    "CLOUDFLARE_PREFIX",
    "DEFAULT_MODEL",
    "EMBEDDED_MODEL",
    "FAST_MODEL",
    "MODELS",
    "RETIRED_2026_05_30",
    "TABLE",
    "TABLE_CATALOG",
    "TUTOR_MODEL",
    "Catalog",
    "IoShape",
    "ModelConfigError",
    "ModelInfo",
    "ReasoningEffort",
    "deprecation_header",
    "io_shape_of",
    "json_param_of",
    "known_ids",
    "parse_successors",
    "resolve_model",
    "serving_model",
    "successor",
    "sunset_header",
]

#: The seed's six, in the seed's order: first in ``/api/llm/models`` and ``/v1/models``, which
#: list the host's whole merged catalog. Every id of ``TABLE`` resolves.
MODELS: tuple[ModelInfo, ...] = SEED_MODELS

# The defaults, chosen (late 2026) for JSON-schema support, context, price and no forced
# reasoning. llama-4-scout-17b-16e-instruct: `response_format` json_schema and tools [M-scout],
# 131,000 tokens, 0.27 / 0.85, no reasoning, and the legacy shape every host reads today.
# Passed over: llama-3.2-3b-instruct (the old default: no confirmed JSON mode or tools, and
# small); llama-3.3-70b-instruct-fp8-fast (the old fast/tutor model: 24,000 tokens, output
# 2.6x scout's price); gpt-oss-* (reasoning cannot be turned off); glm-4.7-flash (cheapest,
# 0.0605 / 0.40, but thinks by default and takes the Chat Completions shape: the candidate once
# the binding layer reads that shape and turns thinking off); gemma-4 and qwen3 (reasoning
# whose switch is unconfirmed); kimi-k2.6 (Workers Paid only, 4.00 per M output).

#: used when a request names no model (LLM_API_DEFAULT_MODEL)
DEFAULT_MODEL = "llama-4-scout-17b-16e-instruct"
#: prompt optimisation, the seed's "fast LLM" (LLM_API_FAST_MODEL): JSON schema, low latency
#: (17B active parameters), no thinking tokens before the answer
FAST_MODEL = "llama-4-scout-17b-16e-instruct"
#: level feedback, topics and session summaries (LLM_API_TUTOR_MODEL): JSON mode, and a
#: context that takes any accepted transcript (200,000 characters) in one request
TUTOR_MODEL = "llama-4-scout-17b-16e-instruct"

#: the built-in table's view; never updated (a host reading the live list keeps its own)
TABLE_CATALOG = Catalog(TABLE)


def known_ids() -> list[str]:
    return TABLE_CATALOG.known_ids()


def io_shape_of(full_id: str) -> IoShape:
    """The shape a Workers AI model takes: the table's ``io_shape``, else what the merged
    view gives a model only the live list knows (``infer_io_shape``, a function of the id), so
    a binding that has only the id agrees with the catalog."""
    model = TABLE_CATALOG.get(full_id)
    return model.io_shape if model is not None else infer_io_shape(full_id)


def json_param_of(full_id: str) -> JsonParam:
    """Where a Workers AI model takes its JSON schema: the table's ``json_param``, else
    ``response_format`` (no live property states it)."""
    model = TABLE_CATALOG.get(full_id)
    return model.json_param if model is not None else "response_format"


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
