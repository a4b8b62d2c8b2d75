"""Which model answers a request: a retired one's successor, the lifecycle headers that say
so, and the 410 when nothing answers (issue 14; the rules are ``catalog.view.Catalog``'s)."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

from llm_api.catalog import Catalog, ModelInfo, deprecation_header, sunset_header
from llm_api.errors import ModelRetired


@dataclass(slots=True)
class ReplyHeaders:
    """Headers the engine adds to one answer (``Deprecation``/``Sunset``): kept in ``values``
    for answers a route builds itself, and written to ``sink`` (the framework's response
    headers) for the answers it serialises."""

    values: dict[str, str] = field(default_factory=dict)
    sink: MutableMapping[str, str] | None = None

    def set(self, name: str, value: str) -> None:
        self.values[name] = value
        if self.sink is not None:
            self.sink[name] = value


def serving_model(
    catalog: Catalog, reply: ReplyHeaders, model: ModelInfo
) -> tuple[ModelInfo, ModelInfo]:
    """(the model that answers, the requested one as the catalog knows it now): the requested
    one while active, its successor once retired (README "Models"). Sets ``Deprecation``
    (RFC 9745) and ``Sunset`` (RFC 8594) for a retired or planned-deprecated model; a 410 when
    nothing answers for it."""
    requested = catalog.get(model.id) or model
    serving = catalog.serving_model(requested)
    if serving is None:
        raise ModelRetired(requested.id, message=retired_message(catalog, requested))
    deprecation, sunset = deprecation_header(requested), sunset_header(requested)
    if deprecation:
        reply.set("deprecation", deprecation)
    if sunset:
        reply.set("sunset", sunset)
    return serving, requested


def retired_message(catalog: Catalog, model: ModelInfo) -> str:
    """Names the model to use instead: an active one by the same author, else any."""
    active = [m for m in catalog.models(active_only=True) if m.id != model.id]
    same = [m for m in active if m.prefix == model.prefix and not m.small]
    pick = (same or active or [None])[0]
    day = f" on {model.retired_on.isoformat()}" if model.retired_on else ""
    text = f"model: '{model.short_id}' was retired by Cloudflare{day} and nothing answers for it"
    if pick is not None:
        text += (
            f"; use '{pick.short_id}', or pin a successor with "
            f"LLM_API_MODEL_SUCCESSORS={model.short_id}={pick.short_id}"
        )
    return text
