"""Reading the account's live model list: ``env.AI.models(...)`` and REST ``/ai/models/search``.

Both give the same entries [AI][API]: ``{id: UUID, name: "@cf/...", task, properties:
[{property_id, value}]}``. Values are strings ("true", "131072") except ``price`` (an array of
``{unit, price, currency}``) and ``reasoning_effort`` (an object). The list comes from outside,
so every part is bounded and checked: an unknown property is ignored, a bad value leaves that
field unstated (the table's value or the default then applies), a malformed entry is skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from llm_api.catalog.lifecycle import FULL_ID
from llm_api.catalog.model import ReasoningEffort

TEXT_GENERATION = "Text Generation"
PER_PAGE = 50  # wrangler's page size for `wrangler ai models` [WR]
MAX_LIVE_ENTRIES = 2_000  # entries read from one listing (the catalog had ~100 text models)
MAX_PAGES = MAX_LIVE_ENTRIES // PER_PAGE
MAX_PROPERTIES = 64  # properties read per entry (the docs JSON has up to 10)
MAX_CONTEXT = 16_777_216
MAX_PRICE = 1_000.0  # USD per million tokens; anything above is junk

_PRICE_UNITS = {
    "per M input tokens": "input",
    "per M output tokens": "output",
    "per M cached input tokens": "cached_input",
}
_EFFORT = re.compile(r"^[a-z]{1,16}$")  # anchored: pydantic patterns search
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]{0,15}(?:Z|[+-]\d{2}:?\d{2})?)?")


class CatalogFetchError(Exception):
    """The live list could not be read; the catalog keeps what it had (the table at worst)."""


@dataclass(frozen=True, slots=True)
class LiveModel:
    """One entry of the live list. ``None`` means "not stated" (absent or unreadable)."""

    id: str  # the full "@cf/..." id (the entry's `name`)
    uuid: str | None = None
    context_window: int | None = None
    function_calling: bool | None = None
    reasoning: bool | None = None
    reasoning_effort: ReasoningEffort | None = None
    vision: bool | None = None
    require_workers_paid: bool | None = None
    beta: bool | None = None
    cost_per_m_input: float | None = None
    cost_per_m_output: float | None = None
    cost_per_m_cached_input: float | None = None
    planned_deprecation: date | None = None


class _Task(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[str, StringConstraints(max_length=64)] | None = None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[str, StringConstraints(max_length=200)]
    id: Annotated[str, StringConstraints(max_length=64)] | None = None
    task: _Task | None = None
    properties: list[Any] | None = None


class _Property(BaseModel):
    model_config = ConfigDict(extra="ignore")
    property_id: Annotated[str, StringConstraints(max_length=64)]
    value: Any = None


class _Price(BaseModel):
    model_config = ConfigDict(extra="ignore")
    unit: Annotated[str, StringConstraints(max_length=64)]
    price: Annotated[float, Field(strict=True)]  # a number: "0.35" or true is junk
    currency: Annotated[str, StringConstraints(max_length=8)] = "USD"


class _Effort(BaseModel):
    model_config = ConfigDict(extra="ignore")
    supported_efforts: list[Annotated[str, StringConstraints(pattern=_EFFORT.pattern)]] = Field(
        default_factory=list, max_length=8
    )
    default_effort: Annotated[str, StringConstraints(pattern=_EFFORT.pattern)] | None = None
    mandatory: bool = False
    default_enabled: bool = True


class _SearchPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    success: bool = False
    errors: list[Any] = Field(default_factory=list)
    result: list[Any] | None = None


def parse_entry(raw: object) -> LiveModel | None:
    """A ``LiveModel`` from one listing entry, or None for an entry that is not a usable
    text-generation model (malformed, another task, a name that is not a model id)."""
    try:
        entry = _Entry.model_validate(raw)
    except ValidationError:
        return None
    if not FULL_ID.fullmatch(entry.name):
        return None
    if entry.task is not None and entry.task.name not in (None, TEXT_GENERATION):
        return None
    fields: dict[str, Any] = {}
    for item in (entry.properties or [])[:MAX_PROPERTIES]:
        try:
            prop = _Property.model_validate(item)
        except ValidationError:
            continue
        fields.update(_property(prop.property_id, prop.value))
    return LiveModel(id=entry.name, uuid=entry.id, **fields)


def parse_entries(raw: object, *, limit: int = MAX_LIVE_ENTRIES) -> list[LiveModel]:
    """The models of a listing (``env.AI.models()``'s array, or REST pages joined): the first
    ``limit`` entries are read, junk is skipped, a repeated id keeps its first entry."""
    if not isinstance(raw, list):
        raise CatalogFetchError("the model list is not an array")
    models: dict[str, LiveModel] = {}
    for item in raw[:limit]:
        model = parse_entry(item)
        if model is not None and model.id not in models:
            models[model.id] = model
    return list(models.values())


def parse_search_page(body: object) -> list[Any]:
    """The ``result`` array of one REST ``/ai/models/search`` answer (``{success, errors,
    result}``; ``result_info`` is not relied on: it is missing from the documented example)."""
    try:
        page = _SearchPage.model_validate(body)
    except ValidationError:
        raise CatalogFetchError("the model search answer is not a Cloudflare envelope") from None
    if not page.success or page.result is None:
        raise CatalogFetchError(f"model search failed: {_first_error(page.errors)}")
    return page.result


async def fetch_all_pages(
    fetch_page: Callable[[int], Awaitable[list[Any]]],
    *,
    per_page: int = PER_PAGE,
    max_pages: int = MAX_PAGES,
    max_entries: int = MAX_LIVE_ENTRIES,
) -> list[Any]:
    """Pages 1, 2, ... of a listing until a short page [WR], ``max_pages`` pages or
    ``max_entries`` entries. ``fetch_page(n)`` returns page n's entries, fetched with
    ``per_page``; a page repeating the previous one (a server ignoring ``page``) ends it too."""
    entries: list[Any] = []
    previous: list[Any] | None = None
    for number in range(1, max_pages + 1):
        page = await fetch_page(number)
        if not isinstance(page, list):
            raise CatalogFetchError(f"page {number} of the model list is not an array")
        if page and page == previous:
            break
        entries.extend(page[: max_entries - len(entries)])
        if len(page) < per_page or len(entries) >= max_entries:
            break
        previous = page
    return entries


def _property(name: str, value: Any) -> dict[str, Any]:
    if name == "context_window":
        return {"context_window": _int(value)}
    if name in ("function_calling", "reasoning", "vision", "require_workers_paid", "beta"):
        return {name: _flag(value)}
    if name == "price":
        return _prices(value)
    if name == "reasoning_effort":
        return {"reasoning_effort": _effort(value)}
    if name == "planned_deprecation_date":
        return {"planned_deprecation": _date(value)}
    return {}  # async_queue, terms, lora, info, ... : nothing the catalog uses


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit() and len(value) <= 12:
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_CONTEXT:
        return value
    return None


def _prices(value: Any) -> dict[str, Any]:
    if not isinstance(value, list):
        return {}
    prices: dict[str, Any] = {}
    for item in value[:8]:
        try:
            price = _Price.model_validate(item)
        except ValidationError:
            continue
        unit = _PRICE_UNITS.get(price.unit)
        if unit and price.currency == "USD" and math.isfinite(price.price):
            if 0 <= price.price <= MAX_PRICE:
                prices.setdefault(f"cost_per_m_{unit}", price.price)
    return prices


def _effort(value: Any) -> ReasoningEffort | None:
    try:
        effort = _Effort.model_validate(value)
    except ValidationError:
        return None
    return ReasoningEffort(
        supported=tuple(effort.supported_efforts) or ("low", "medium", "high"),
        default=effort.default_effort,
        mandatory=effort.mandatory,
        default_enabled=effort.default_enabled,
    )


def _date(value: Any) -> date | None:
    # the docs site reads it with JavaScript's `new Date(value)` [PDD]; the day is what counts
    match = _DATE.fullmatch(value.strip()) if isinstance(value, str) and len(value) <= 40 else None
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _first_error(errors: Iterable[Any]) -> str:
    for error in errors:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:200]
    return "no error message"
