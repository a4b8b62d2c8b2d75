"""Creating keys and reading their usage: shared by the admin API, the usage route and the CLI."""

from __future__ import annotations

from llm_api.catalog import TABLE_CATALOG, resolve_model
from llm_api.catalog.lifecycle import FULL_ID
from llm_api.keys import KeyRecord, KeyStore, new_key
from llm_api.schemas.admin import CreatedKey, KeyUsage, UsageDay
from llm_api.usage import UsageStore, totals


async def create_key(
    store: KeyStore, name: str, *, rpm: int | None = None, models: list[str] | None = None
) -> CreatedKey:
    allowed = None
    if models:
        # Stored as full ids, the form requests are checked in.
        allowed = sorted({_full_id(model) for model in models})
    key, record = new_key(name.strip(), rpm=rpm, allowed_models=allowed)
    await store.put(record)
    return CreatedKey(key=key, **record.public_dict())


def _full_id(model: str) -> str:
    """A catalog id as its full id; a full ``@cf/...`` id the table does not know is kept as
    is (a model only the account's live list names; the CLI has no live list to check)."""
    model = model.strip()
    if TABLE_CATALOG.get(model) is None and FULL_ID.fullmatch(model):
        return model
    return resolve_model(model, param="allowed_models").id


async def key_usage(store: UsageStore, record: KeyRecord, *, days: int = 30) -> KeyUsage:
    entries = await store.usage(record.key_id, days=days)
    return KeyUsage(
        key_id=record.key_id,
        name=record.name,
        rpm=record.rpm,
        days=[UsageDay(**entry.to_dict()) for entry in entries],
        totals=totals(entries),
    )
