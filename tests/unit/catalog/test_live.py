"""Reading the live model list: binding array, REST pages, junk, and the paging loop."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import pytest

from llm_api.catalog.live import (
    CatalogFetchError,
    LiveModel,
    fetch_all_pages,
    parse_entries,
    parse_entry,
    parse_search_page,
)
from llm_api.catalog.model import ReasoningEffort
from tests.support.paths import WORKERS_AI_FIXTURES as FIXTURES


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_binding_list_entries_become_live_models_from_their_properties() -> None:
    models = {model.id: model for model in parse_entries(fixture("models-binding.json"))}
    assert list(models) == [
        "@cf/zai-org/glm-4.7-flash",
        "@cf/moonshotai/kimi-k2.6",
        "@cf/openai/gpt-oss-120b",
        "@cf/google/gemma-4-26b-a4b-it",
        "@cf/meta/llama-3.1-8b-instruct-fast",
        "@cf/qwen/qwen3-30b-a3b-fp8",
    ]
    assert models["@cf/moonshotai/kimi-k2.6"] == LiveModel(
        id="@cf/moonshotai/kimi-k2.6",
        uuid="8a5d00bd-de28-4a28-b37a-ce46d01ebaeb",
        context_window=262_144,
        function_calling=True,
        reasoning=True,
        vision=True,
        require_workers_paid=True,
        cost_per_m_input=0.95,
        cost_per_m_output=4.0,
        cost_per_m_cached_input=0.16,
    )
    assert models["@cf/openai/gpt-oss-120b"].reasoning_effort == ReasoningEffort(
        supported=("low", "medium", "high"), default="medium", mandatory=True
    )
    # a model whose entry states only `beta` and `terms`: everything else unstated
    assert models["@cf/meta/llama-3.1-8b-instruct-fast"] == LiveModel(
        id="@cf/meta/llama-3.1-8b-instruct-fast",
        uuid="872d9af1-5ff8-4e84-aed1-ab3caf909436",
        beta=True,
    )
    assert models["@cf/qwen/qwen3-30b-a3b-fp8"].planned_deprecation == date(2027, 1, 31)


def test_rest_pages_read_the_result_array_and_stop_on_the_short_page() -> None:
    pages = {1: fixture("models-search-page1.json"), 2: fixture("models-search-page2.json")}
    asked: list[int] = []

    async def fetch_page(page: int) -> list[Any]:
        asked.append(page)
        return parse_search_page(pages[page])

    entries = asyncio.run(fetch_all_pages(fetch_page, per_page=2))
    assert asked == [1, 2]
    assert [model.id for model in parse_entries(entries)] == [
        "@cf/zai-org/glm-4.7-flash",
        "@cf/moonshotai/kimi-k2.6",
        "@cf/openai/gpt-oss-120b",
    ]


def test_a_failed_search_raises_with_the_first_error_message() -> None:
    with pytest.raises(CatalogFetchError, match="model search failed: Authentication error"):
        parse_search_page(fixture("models-search-error.json"))
    with pytest.raises(CatalogFetchError, match="not a Cloudflare envelope"):
        parse_search_page(["not", "an", "envelope"])
    with pytest.raises(CatalogFetchError, match="no error message"):
        parse_search_page({"success": True, "errors": [{"code": 1}], "result": None})


def test_junk_entries_are_skipped_and_junk_values_left_unstated() -> None:
    models = parse_entries(fixture("models-junk.json"))
    by_id = {model.id: model for model in models}
    # not an object, no name, no model id, an embeddings model, a 300-character name and a
    # `properties` string are skipped; the rest keep what reads as valid
    assert list(by_id) == [
        "@cf/example/junk-values-7b",
        "@cf/example/junk-prices-3b",
        "@cf/zai-org/glm-4.7-flash",
        "@cf/example/no-task-model",
    ]
    assert by_id["@cf/example/junk-values-7b"] == LiveModel(
        id="@cf/example/junk-values-7b", uuid="00000000-0000-4000-8000-000000000006", vision=True
    )
    prices = by_id["@cf/example/junk-prices-3b"]
    assert (prices.context_window, prices.cost_per_m_input) == (None, None)
    assert (prices.cost_per_m_output, prices.cost_per_m_cached_input) == (0.3, None)
    assert prices.reasoning_effort is None  # "<script>" is no effort name
    assert prices.planned_deprecation is None  # 2027-02-30
    no_task = by_id["@cf/example/no-task-model"]
    assert (no_task.context_window, no_task.function_calling) == (16_384, False)
    assert no_task.planned_deprecation == date(2027, 3, 1)


def test_a_repeated_id_keeps_its_first_entry() -> None:
    models = parse_entries(fixture("models-binding.json") + fixture("models-junk.json"))
    glm = next(model for model in models if model.id == "@cf/zai-org/glm-4.7-flash")
    assert glm.context_window == 131_072
    assert len(models) == 6 + 3


def test_the_number_of_entries_read_is_bounded() -> None:
    entry = fixture("models-binding.json")[0]
    many = [{**entry, "name": f"@cf/example/model-{n}"} for n in range(2_500)]
    assert len(parse_entries(many)) == 2_000
    assert len(parse_entries(many, limit=10)) == 10
    with pytest.raises(CatalogFetchError, match="not an array"):
        parse_entries({"result": many})


def test_properties_beyond_the_bound_are_not_read() -> None:
    filler = [{"property_id": "terms", "value": "x"}] * 64
    vision = {"property_id": "vision", "value": "true"}
    entry = {"name": "@cf/example/m", "properties": [*filler, vision]}
    model = parse_entry(entry)
    assert model is not None and model.vision is None
    assert parse_entry({"name": "@cf/example/m", "properties": None}) == LiveModel("@cf/example/m")


def _pager(total: int, per_page: int, asked: list[int]) -> Any:
    async def fetch_page(page: int) -> list[Any]:
        asked.append(page)
        start = (page - 1) * per_page
        return [{"name": f"@cf/example/m{n}"} for n in range(start, min(start + per_page, total))]

    return fetch_page


def test_paging_stops_on_a_short_or_empty_page() -> None:
    asked: list[int] = []
    entries = asyncio.run(fetch_all_pages(_pager(120, 50, asked)))
    assert (asked, len(entries)) == ([1, 2, 3], 120)
    asked.clear()
    entries = asyncio.run(fetch_all_pages(_pager(100, 50, asked)))
    assert (asked, len(entries)) == ([1, 2, 3], 100)  # page 3 is empty


def test_paging_stops_at_the_page_bound() -> None:
    asked: list[int] = []
    entries = asyncio.run(fetch_all_pages(_pager(10_000, 50, asked), max_pages=4))
    assert (asked, len(entries)) == ([1, 2, 3, 4], 200)
    asked.clear()
    entries = asyncio.run(fetch_all_pages(_pager(10_000, 50, asked)))
    assert (len(asked), len(entries)) == (40, 2_000)  # the default bound: 2,000 entries


def test_paging_stops_when_the_entry_bound_is_reached_mid_page() -> None:
    asked: list[int] = []
    entries = asyncio.run(fetch_all_pages(_pager(10_000, 50, asked), max_entries=120))
    assert (asked, len(entries)) == ([1, 2, 3], 120)


def test_paging_stops_when_a_server_ignores_the_page_number() -> None:
    asked: list[int] = []

    async def same_page(page: int) -> list[Any]:
        asked.append(page)
        return [{"name": f"@cf/example/m{n}"} for n in range(50)]

    entries = asyncio.run(fetch_all_pages(same_page))
    assert (asked, len(entries)) == ([1, 2], 50)


def test_a_page_that_is_not_an_array_fails_the_listing() -> None:
    async def broken(page: int) -> Any:
        return {"result": []}

    with pytest.raises(CatalogFetchError, match="page 1 of the model list is not an array"):
        asyncio.run(fetch_all_pages(broken))
