"""``HostCatalog``: the host's merged view, its live list reloaded through the TTL cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llm_api.catalog import ModelConfigError
from llm_api.catalog.cache import LIVE_TTL_S, RETRY_S, LiveCatalogCache
from llm_api.catalog.source import HostCatalog
from tests.support.model_listing import NEWCOMER, NEWCOMER_ENTRY, binding_listing


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Listing:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.calls = 0
        self.fail = False

    async def __call__(self) -> list[Any]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("listing unavailable")
        return list(self.entries)


def ids(host: HostCatalog) -> set[str]:
    return {model.id for model in asyncio.run(host.current()).models()}


def test_the_live_list_is_reloaded_once_the_ttl_has_passed() -> None:
    clock, listing = Clock(), Listing(binding_listing())
    host = HostCatalog(list_models=listing, cache=LiveCatalogCache(clock=clock))
    assert NEWCOMER not in ids(host) and listing.calls == 1
    listing.entries.append(NEWCOMER_ENTRY)
    clock.now += LIVE_TTL_S - 1
    assert NEWCOMER not in ids(host) and listing.calls == 1  # still fresh: not reloaded
    clock.now += 2
    assert NEWCOMER in ids(host) and listing.calls == 2


def test_a_failed_reload_keeps_the_last_copy_and_retries_later() -> None:
    clock, listing = Clock(), Listing([*binding_listing(), NEWCOMER_ENTRY])
    host = HostCatalog(list_models=listing, cache=LiveCatalogCache(clock=clock))
    assert NEWCOMER in ids(host)
    listing.fail = True
    clock.now += LIVE_TTL_S + 1
    assert NEWCOMER in ids(host) and listing.calls == 2
    assert NEWCOMER in ids(host) and listing.calls == 2  # not again before RETRY_S
    clock.now += RETRY_S + 1
    ids(host)
    assert listing.calls == 3


def test_a_host_without_a_live_list_serves_the_table() -> None:
    host = HostCatalog()
    assert not host.live
    assert "@cf/zai-org/glm-4.7-flash" in ids(host) and NEWCOMER not in ids(host)


def test_the_successor_setting_is_read_by_the_host_catalog() -> None:
    host = HostCatalog(successors="llama-3-8b-instruct=glm-4.7-flash")
    catalog = asyncio.run(host.current())
    retired = catalog.resolve("llama-3-8b-instruct")
    assert catalog.serving_model(retired).id == "@cf/zai-org/glm-4.7-flash"
    with pytest.raises(ModelConfigError):
        HostCatalog(successors="llama-3-8b-instruct")
