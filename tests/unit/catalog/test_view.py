"""The merged catalog: live values over the table, live-only models, retirements, the cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from llm_api.catalog import TABLE, deprecation_header, parse_successors, sunset_header
from llm_api.catalog.cache import LiveCatalogCache
from llm_api.catalog.live import LiveModel, parse_entries
from llm_api.catalog.model import ModelInfo
from llm_api.catalog.view import Catalog, infer_io_shape, io_shape_from_schema
from llm_api.errors import ModelNotFound
from tests.support.paths import WORKERS_AI_FIXTURES as FIXTURES

DAY = 86_400.0
MAY_30 = 1_780_099_200.0  # 2026-05-30T00:00Z
NOV_1 = 1_793_491_200.0  # 2026-11-01T00:00Z
FAST_8B = "@cf/meta/llama-3.1-8b-instruct-fast"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live(name: str = "models-binding.json") -> list[LiveModel]:
    return parse_entries(json.loads((FIXTURES / name).read_text()))


def catalog(entries: Sequence[LiveModel] = (), **kwargs: Any) -> Catalog:
    kwargs.setdefault("clock", Clock(NOV_1))
    view = Catalog(TABLE, **kwargs)
    view.update_live(entries)
    return view


def table(short_id: str) -> ModelInfo:
    return next(model for model in TABLE if model.short_id == short_id)


def test_live_values_win_and_the_table_keeps_name_shape_and_json_mode() -> None:
    glm_table = table("glm-4.7-flash")
    changed = LiveModel(
        id=glm_table.id, context_window=200_000, function_calling=False, cost_per_m_output=0.5
    )
    glm = catalog([changed]).resolve("glm-4.7-flash")
    assert (glm.context_window, glm.supports_tools, glm.cost_per_m_output) == (200_000, False, 0.5)
    assert glm.cost_per_m_input == glm_table.cost_per_m_input  # unstated: the table's
    assert glm.name == "GLM-4.7 Flash"
    assert glm.io_shape == "chat_completions" and glm.supports_json_mode
    assert glm.source == "table+live"


def test_an_omitted_property_leaves_the_table_value() -> None:
    scout_table = table("llama-4-scout-17b-16e-instruct")
    scout = catalog([LiveModel(id=scout_table.id, beta=True)]).resolve(scout_table.id)
    assert scout == replace(scout_table, beta=True, source="table+live")


def test_the_binding_list_merges_over_the_table() -> None:
    view = catalog(live())
    kimi = view.resolve("kimi-k2.6")
    assert (kimi.context_window, kimi.cost_per_m_cached_input) == (262_144, 0.16)
    assert kimi.require_workers_paid and kimi.source == "table+live"
    assert view.resolve("llama-3.2-3b-instruct").source == "table"  # not listed: kept
    assert [model.id for model in view.models()] == [model.id for model in TABLE]


def test_a_model_only_the_live_list_knows_is_usable_with_its_stated_capabilities() -> None:
    entry = LiveModel(
        id="@cf/zai-org/glm-5.3-flash",
        context_window=202_752,
        function_calling=True,
        reasoning=True,
        cost_per_m_input=0.1,
        cost_per_m_output=0.6,
    )
    view = catalog([entry])
    model = view.resolve("glm-5.3-flash")
    assert view.resolve("@cf/zai-org/glm-5.3-flash") is model
    assert (model.name, model.context_window, model.supports_tools) == (
        "glm-5.3-flash",
        202_752,
        True,
    )
    assert model.reasoning and not model.vision and not model.supports_json_mode
    assert (model.io_shape, model.source, model.small) == ("chat_completions", "live", False)
    assert model.estimated_cost(1_000_000, 1_000_000) == pytest.approx(0.7)
    assert view.models()[-1] is model
    assert view.known_ids()[-1] == "glm-5.3-flash"


def test_a_live_model_without_a_context_window_gets_a_small_one() -> None:
    model = catalog([LiveModel(id="@cf/example/mystery")]).resolve("mystery")
    assert model.context_window == 8_192
    assert (model.cost_per_m_input, model.cost_per_m_output, model.supports_tools) == (0, 0, False)


def test_a_live_short_id_taken_by_the_table_is_reachable_by_full_id_only() -> None:
    twin = LiveModel(id="@cf/someone/glm-4.7-flash", context_window=1_000)
    view = catalog([twin])
    assert view.resolve("glm-4.7-flash").id == "@cf/zai-org/glm-4.7-flash"
    assert view.resolve("@cf/someone/glm-4.7-flash").context_window == 1_000
    assert view.known_ids()[-1] == "@cf/someone/glm-4.7-flash"


def test_a_listed_model_retired_on_2026_05_30_is_retired_without_a_successor() -> None:
    view = catalog([LiveModel(id="@cf/meta/llama-3.1-70b-instruct", context_window=24_000)])
    model = view.resolve("llama-3.1-70b-instruct")
    assert model.retired and model.deprecated and model.replacement is None
    assert view.serving_model(model) is None
    assert view.models(active_only=True) == [m for m in view.models() if not m.retired]


def test_io_shape_of_unknown_models_follows_the_documented_rule() -> None:
    assert infer_io_shape("@cf/zai-org/glm-5.2") == "chat_completions"
    assert infer_io_shape("@cf/nvidia/nemotron-3-120b-a12b") == "chat_completions"
    assert infer_io_shape("@cf/google/gemma-4-e4b-it") == "chat_completions"
    assert infer_io_shape("@cf/meta/llama-5-maverick") == "legacy"
    assert infer_io_shape("@cf/qwen/qwq-32b") == "legacy"
    assert infer_io_shape("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b") == "legacy"
    assert infer_io_shape("@cf/google/gemma-7b-it-lora") == "legacy"
    assert infer_io_shape("@hf/thebloke/zephyr-7b-beta-awq") == "legacy"


def test_io_shape_from_a_models_input_schema() -> None:
    chat = {"oneOf": [{"properties": {"messages": {}, "max_completion_tokens": {}}}]}
    legacy = {"type": "object", "oneOf": [{"properties": {"prompt": {}}}, {"properties": {}}]}
    assert io_shape_from_schema(chat) == "chat_completions"
    assert io_shape_from_schema(legacy) == "legacy"
    assert io_shape_from_schema({"properties": {"text": {}}}) is None
    deep: dict[str, Any] = {"properties": {"max_completion_tokens": {}}}
    for _ in range(10_000):
        deep = {"items": [deep]}
    assert io_shape_from_schema(deep) is None  # beyond the node bound


def test_mark_retired_routes_to_the_given_successor_from_today() -> None:
    view = catalog(live())
    model = view.mark_retired("qwen3-30b-a3b-fp8", successor="glm-4.7-flash")
    assert model.retired_on == date(2026, 11, 1) and model.deprecated
    assert model.replacement == "@cf/zai-org/glm-4.7-flash"
    assert view.resolve("qwen3-30b-a3b-fp8") is model
    assert view.serving_model(model) is view.resolve("glm-4.7-flash")
    assert deprecation_header(model) == "@1793491200"
    # a fresh listing keeps the run-time retirement
    view.update_live(live())
    assert view.resolve("qwen3-30b-a3b-fp8").retired


def test_mark_retired_without_a_successor_leaves_nothing_to_serve() -> None:
    view = catalog()
    model = view.mark_retired("gemma-4-26b-a4b-it")
    assert model.retired and model.replacement is None
    assert view.serving_model(model) is None and view.successor(model) is None
    # a successor that is retired itself, or unknown, is not taken
    other = view.mark_retired("kimi-k2.6", successor="llama-3-8b-instruct")
    assert other.replacement is None
    assert view.mark_retired("qwen3-30b-a3b-fp8", successor="gpt-9").replacement is None
    with pytest.raises(ModelNotFound):
        view.mark_retired("gpt-9")


def test_a_pinned_successor_wins_over_the_table_and_the_run_time_one() -> None:
    pins = parse_successors(
        "llama-3-8b-instruct=gpt-oss-20b,qwen3-30b-a3b-fp8=@cf/zai-org/glm-5.3-flash"
    )
    view = catalog(successors=pins)
    assert view.resolve("llama-3-8b-instruct").replacement == "@cf/openai/gpt-oss-20b"
    assert view.resolve("llama-3.1-8b-instruct").replacement == FAST_8B
    # the pin applies once its model is retired; a pinned model no listing names still answers
    assert view.resolve("qwen3-30b-a3b-fp8").replacement is None
    qwen = view.mark_retired("qwen3-30b-a3b-fp8", successor="glm-4.7-flash")
    served = view.serving_model(qwen)
    assert served is not None and served.id == "@cf/zai-org/glm-5.3-flash"
    assert served.io_shape == "chat_completions" and not served.supports_json_mode


def test_successors_are_followed_through_retired_ones_and_cycles_end() -> None:
    view = catalog()
    view.mark_retired("llama-3.1-8b-instruct-fast", successor="llama-4-scout-17b-16e-instruct")
    old = view.resolve("llama-2-7b-chat-fp16")
    assert view.serving_model(old) is view.resolve("llama-4-scout-17b-16e-instruct")
    view.mark_retired("llama-4-scout-17b-16e-instruct")
    assert view.serving_model(old) is None
    loop = catalog()
    loop.mark_retired("glm-4.7-flash", successor="gemma-4-26b-a4b-it")
    loop.mark_retired("gemma-4-26b-a4b-it")  # retired with no successor of its own
    assert loop.serving_model(loop.resolve("glm-4.7-flash")) is None


def test_a_planned_deprecation_adds_headers_before_the_date_and_deprecates_after() -> None:
    clock = Clock(NOV_1)
    view = catalog(live(), clock=clock)
    qwen = view.resolve("qwen3-30b-a3b-fp8")
    assert qwen.planned_deprecation == date(2027, 1, 31) and not qwen.deprecated
    assert deprecation_header(qwen) == "@1801353600"
    assert sunset_header(qwen, now=clock.now) == "Sun, 31 Jan 2027 00:00:00 GMT"
    clock.now = 1_801_353_600.0 + 60  # 2027-01-31, one minute past midnight
    after = view.resolve("qwen3-30b-a3b-fp8")
    assert after.deprecated and not after.retired  # only a 5028 proves the retirement
    assert view.serving_model(after) is after
    assert sunset_header(after, now=clock.now) is None


def test_the_cache_loads_when_due_and_keeps_its_copy_for_the_ttl() -> None:
    clock = Clock(1_000.0)
    cache = LiveCatalogCache(ttl_s=300, clock=clock)
    loads: list[float] = []

    async def load() -> list[LiveModel]:
        loads.append(clock.now)
        return live()

    assert cache.due() and not cache.fresh()
    first = asyncio.run(cache.refresh(load))
    assert first is not None and len(first) == 6 and cache.generation == 1
    clock.now += 299
    assert cache.fresh() and asyncio.run(cache.refresh(load)) is first
    clock.now += 1
    assert cache.due()
    asyncio.run(cache.refresh(load))
    assert loads == [1_000.0, 1_300.0] and cache.generation == 2


def test_a_failed_load_keeps_the_last_copy_and_retries_after_the_retry_delay() -> None:
    clock = Clock(0.0)
    cache = LiveCatalogCache(ttl_s=300, retry_s=30, clock=clock)
    answers: list[Any] = [live(), RuntimeError("AiInternalError: Authentication error"), live()]

    async def load() -> list[LiveModel]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    good = asyncio.run(cache.refresh(load))
    clock.now = 300.0
    assert asyncio.run(cache.refresh(load)) is good
    assert cache.last_error == "RuntimeError: AiInternalError: Authentication error"
    clock.now = 329.0
    assert not cache.due()
    clock.now = 330.0
    assert asyncio.run(cache.refresh(load)) is not good and cache.last_error is None


def test_one_load_at_a_time() -> None:
    cache = LiveCatalogCache(clock=Clock(0.0))
    started, release = asyncio.Event(), asyncio.Event()
    loads = 0

    async def slow() -> list[LiveModel]:
        nonlocal loads
        loads += 1
        started.set()
        await release.wait()
        return live()

    async def scenario() -> None:
        first = asyncio.create_task(cache.refresh(slow))
        await started.wait()
        assert await cache.refresh(slow) is None  # no copy yet: the caller uses the table
        release.set()
        assert await first is not None

    asyncio.run(scenario())
    assert loads == 1


def test_catalog_refresh_applies_a_new_copy_once() -> None:
    clock = Clock(0.0)
    cache = LiveCatalogCache(ttl_s=300, clock=clock)
    view = Catalog(TABLE, clock=Clock(NOV_1))

    async def load() -> list[LiveModel]:
        return [LiveModel(id="@cf/zai-org/glm-5.2", context_window=202_752)]

    assert asyncio.run(view.refresh(cache, load)) is True
    assert view.resolve("glm-5.2").source == "live"
    assert asyncio.run(view.refresh(cache, load)) is False  # still fresh: nothing new


def test_catalog_refresh_after_a_failed_first_load_keeps_the_table() -> None:
    cache = LiveCatalogCache(clock=Clock(0.0))
    view = Catalog(TABLE, clock=Clock(NOV_1))

    async def failing() -> list[LiveModel]:
        raise TimeoutError("listing took too long")

    assert asyncio.run(view.refresh(cache, failing)) is False
    assert view.models() == list(TABLE)


def test_cache_rejects_a_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="positive"):
        LiveCatalogCache(ttl_s=0)
