"""The merged catalog: the built-in table, the account's live list over it, and the
retirements seen at run time.

Merge rules (README, "Models"):
* a model in both: the table gives the display name, ``io_shape``, JSON mode (no live property
  states it), ``small`` and known retirements; a property the live entry states (and that reads
  as valid) wins for the context window, capabilities, prices and the planned deprecation date;
  a property it omits leaves the table's value (the docs omit flags for models whose schema has
  them, e.g. tools on llama-3.2-3b);
* a model only the live list knows is usable with what its properties state: no JSON mode,
  unstated capabilities off, unstated prices 0, ``io_shape`` from ``infer_io_shape``;
* a table model missing from the live list stays (a partial or filtered list proves nothing);
* retired = retired in the table, in the 2026-05-30 list, or by ``mark_retired`` (a 5028);
  a planned date that has passed only marks the model deprecated: the 5028 is the proof.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from llm_api.catalog.lifecycle import FULL_ID
from llm_api.catalog.live import LiveModel
from llm_api.catalog.model import IoShape, ModelInfo
from llm_api.catalog.table import RETIRED_2026_05_30, RETIRED_IDS
from llm_api.errors import ModelNotFound

if TYPE_CHECKING:
    from llm_api.catalog.cache import LiveCatalogCache

#: context assumed for a listed model whose entry states none: small, so a prompt the model
#: may not take is refused here rather than by the platform
UNLISTED_CONTEXT = 8_192
MAX_SUCCESSOR_HOPS = 8

# Authors and names of the 2024-25 Workers AI text models, which all take the legacy shape [M];
# Cloudflare's 2026 additions (glm-*, kimi-*, gemma-4, gpt-oss, nemotron) take Chat Completions
# [RN 2026-02-17][M-glm][M-gemma][M-kimi]. No catalog property states the shape [facts §2].
_LEGACY_AUTHORS = frozenset({"meta", "meta-llama", "mistral", "mistralai"})
_LEGACY_NAMES = re.compile(
    r"(llama|mistral|qwq|qwen1|qwen2|qwen3-|deepseek-r1|gemma-[237]|hermes|phi-)"
)
_SIZE = re.compile(r"(?:^|-)(\d+(?:\.\d+)?)b(?:-|$)")
SMALL_BILLIONS = 4.0  # at or under this many parameters a model is ``small``


def infer_io_shape(full_id: str) -> IoShape:
    """The shape of a model the table does not know: legacy for ``@hf/`` ids, the old authors,
    LoRA bases and the old families' names; Chat Completions otherwise (unconfirmed per model:
    ``io_shape_from_schema`` on ``/ai/models/schema`` is the exact answer)."""
    source, author, name = [*full_id.split("/", 2), "", ""][:3]
    if source == "@hf" or author in _LEGACY_AUTHORS or name.endswith("-lora"):
        return "legacy"
    return "legacy" if _LEGACY_NAMES.match(name) else "chat_completions"


def io_shape_from_schema(schema: Any, *, max_nodes: int = 5_000) -> IoShape | None:
    """From a model's input JSON Schema: Chat Completions iff it has ``max_completion_tokens``
    (facts §2), legacy if it has ``prompt`` or ``messages``, None when it has neither."""
    stack, seen, legacy = [schema], 0, False
    while stack and seen < max_nodes:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                if "max_completion_tokens" in properties:
                    return "chat_completions"
                legacy = legacy or "prompt" in properties or "messages" in properties
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return "legacy" if legacy else None


def is_small(short_id: str) -> bool:
    size = _SIZE.search(short_id)
    return size is not None and float(size[1]) <= SMALL_BILLIONS


def from_live(entry: LiveModel) -> ModelInfo:
    """A model only the live list knows."""
    prefix, _, short_id = entry.id.rpartition("/")
    retired = entry.id in RETIRED_IDS
    return ModelInfo(
        short_id=short_id,
        name=short_id,
        context_window=entry.context_window or UNLISTED_CONTEXT,
        supports_tools=bool(entry.function_calling),
        supports_json_mode=False,
        cost_per_m_input=entry.cost_per_m_input or 0.0,
        cost_per_m_output=entry.cost_per_m_output or 0.0,
        prefix=prefix + "/",
        cost_per_m_cached_input=entry.cost_per_m_cached_input,
        reasoning=bool(entry.reasoning),
        reasoning_effort=entry.reasoning_effort,
        vision=bool(entry.vision),
        io_shape=infer_io_shape(entry.id),
        require_workers_paid=bool(entry.require_workers_paid),
        small=is_small(short_id),
        beta=bool(entry.beta),
        deprecated=retired,
        retired_on=RETIRED_2026_05_30 if retired else None,
        planned_deprecation=entry.planned_deprecation,
        source="live",
    )


def merge(model: ModelInfo, entry: LiveModel) -> ModelInfo:
    """A table model with what its live entry states over it."""

    def stated(live: Any, table: Any) -> Any:
        return table if live is None else live

    return replace(
        model,
        context_window=stated(entry.context_window, model.context_window),
        supports_tools=stated(entry.function_calling, model.supports_tools),
        reasoning=stated(entry.reasoning, model.reasoning),
        reasoning_effort=stated(entry.reasoning_effort, model.reasoning_effort),
        vision=stated(entry.vision, model.vision),
        require_workers_paid=stated(entry.require_workers_paid, model.require_workers_paid),
        beta=stated(entry.beta, model.beta),
        cost_per_m_input=stated(entry.cost_per_m_input, model.cost_per_m_input),
        cost_per_m_output=stated(entry.cost_per_m_output, model.cost_per_m_output),
        cost_per_m_cached_input=stated(
            entry.cost_per_m_cached_input, model.cost_per_m_cached_input
        ),
        planned_deprecation=stated(entry.planned_deprecation, model.planned_deprecation),
        source="table+live",
    )


class Catalog:
    """The models one isolate knows. Single-threaded by design (the Worker's event loop)."""

    def __init__(
        self,
        table: Iterable[ModelInfo],
        *,
        successors: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        answered_by: ModelInfo | None = None,
    ) -> None:
        self._table = tuple(table)
        #: the one model that really answers every id on this host (the embedded backend's)
        self.answered_by = answered_by
        #: {retired full id: successor full id}, from ``parse_successors``
        self._successors = dict(successors or {})
        self._clock = clock
        self._live: tuple[LiveModel, ...] = ()
        self._live_generation = 0  # the cache's generation before its first load
        self._runtime_retired: dict[str, tuple[date, str | None]] = {}
        self._built_for: date | None = None
        self._models: tuple[ModelInfo, ...] = ()
        self._by_id: dict[str, ModelInfo] = {}
        self._build()

    def get(self, model_id: str) -> ModelInfo | None:
        self._build_if_new_day()
        return self._by_id.get(model_id.strip())

    def resolve(self, model_id: str, *, param: str = "model") -> ModelInfo:
        """Find a model by short id (``llama-3.2-3b-instruct``) or full id (``@cf/meta/...``)."""
        model = self.get(model_id)
        if model is None:
            raise ModelNotFound(
                f"The model '{model_id}' does not exist. Known models: "
                f"{', '.join(self.known_ids())}",
                param=param,
            )
        return model

    def models(self, *, active_only: bool = False) -> list[ModelInfo]:
        self._build_if_new_day()
        return [model for model in self._models if not (active_only and model.retired)]

    def known_ids(self) -> list[str]:
        """The ids to type: the short id, or the full id where another model has the short one."""
        self._build_if_new_day()
        return [m.short_id if self._by_id.get(m.short_id) is m else m.id for m in self._models]

    def update_live(self, entries: Iterable[LiveModel]) -> None:
        """Replace the live layer (a fresh listing); run-time retirements are kept."""
        self._live = tuple(entries)
        self._build()

    async def refresh(
        self, cache: LiveCatalogCache, load: Callable[[], Awaitable[Sequence[LiveModel]]]
    ) -> bool:
        """Reload the live list through ``cache`` when it is due; True when the view changed."""
        entries = await cache.refresh(load)
        if cache.generation == self._live_generation:
            return False
        self._live_generation = cache.generation
        self.update_live(entries or ())
        return True

    def mark_retired(self, model_id: str, successor: str | None = None) -> ModelInfo:
        """Record a retirement seen at run time (a 5028): the model is retired from today.
        ``successor`` (if it resolves to an active model) answers for it unless the settings
        pin another; with neither, ``serving_model`` is None and the caller answers 410."""
        model = self.resolve(model_id)
        target = self.get(successor) if successor else None
        keep = target.id if target is not None and not target.retired else None
        self._runtime_retired[model.id] = (self._today(), keep if keep != model.id else None)
        self._build()
        return self._by_id[model.id]

    def successor(self, model: ModelInfo) -> ModelInfo | None:
        """The active model that answers for a retired one (following retired successors);
        None for an active model, or a retired one with no active successor."""
        current = self.get(model.id) or model
        seen = {current.id}
        while current.retired and current.replacement and len(seen) <= MAX_SUCCESSOR_HOPS:
            following = self.get(current.replacement) or _unlisted(current.replacement)
            if following is None or following.id in seen:
                return None
            seen.add(following.id)
            current = following
        return None if current.retired or current.id == model.id else current

    def serving_model(self, model: ModelInfo) -> ModelInfo | None:
        """The model that answers a request for ``model``: itself while active."""
        current = self.get(model.id) or model
        return current if not current.retired else self.successor(current)

    def writer(self, model: ModelInfo) -> ModelInfo:
        """The model whose text a request for ``model`` gets: the host's own model where one
        answers every id (``answered_by``), else the serving model. Its ``small`` and
        ``languages`` decide how the wording endpoints ask it (``services.slots``)."""
        return self.answered_by or self.serving_model(model) or model

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()

    def _build_if_new_day(self) -> None:
        if self._built_for != self._today():  # a planned date may have passed
            self._build()

    def _build(self) -> None:
        today = self._today()
        live = {entry.id: entry for entry in self._live}
        merged = [
            merge(model, live.pop(model.id)) if model.id in live else model for model in self._table
        ]
        merged.extend(from_live(entry) for entry in live.values())
        self._models = tuple(self._lifecycle(model, today) for model in merged)
        by_id = {model.id: model for model in self._models}
        for model in self._models:
            by_id.setdefault(model.short_id, model)  # the table's, then the first listed
        self._by_id = by_id
        self._built_for = today

    def _lifecycle(self, model: ModelInfo, today: date) -> ModelInfo:
        retired_on, replacement = model.retired_on, model.replacement
        runtime = self._runtime_retired.get(model.id)
        if runtime is not None:
            retired_on = retired_on or runtime[0]
            replacement = runtime[1] or replacement
        if retired_on is not None:
            replacement = self._successors.get(model.id) or replacement
        planned = model.planned_deprecation
        passed = planned is not None and planned <= today
        deprecated = model.deprecated or retired_on is not None or passed
        if (retired_on, replacement, deprecated) == (
            model.retired_on,
            model.replacement,
            model.deprecated,
        ):
            return model
        return replace(model, deprecated=deprecated, retired_on=retired_on, replacement=replacement)


def _unlisted(model_id: str) -> ModelInfo | None:
    """A pinned successor that no listing names (yet): served with what an unlisted model gets."""
    return from_live(LiveModel(id=model_id)) if FULL_ID.fullmatch(model_id) else None
