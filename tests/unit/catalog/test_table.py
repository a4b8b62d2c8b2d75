"""The built-in table: seed ids, today's models, retirements, successors, defaults, headers."""

from __future__ import annotations

from datetime import date

import pytest

from llm_api import catalog
from llm_api.catalog import (
    DEFAULT_MODEL,
    FAST_MODEL,
    MODELS,
    TABLE,
    TUTOR_MODEL,
    ModelConfigError,
    deprecation_header,
    known_ids,
    parse_successors,
    resolve_model,
    serving_model,
    successor,
    sunset_header,
)
from llm_api.catalog.model import ModelInfo
from llm_api.catalog.table import RETIRED_IDS
from llm_api.errors import ModelNotFound
from llm_api.settings import Settings

SEED_IDS = [
    "llama-3.3-70b-instruct-fp8-fast",
    "llama-3.2-3b-instruct",
    "llama-4-scout-17b-16e-instruct",
    "llama-3.1-8b-instruct",
    "llama-3-8b-instruct",
    "llama-2-7b-chat-fp16",
]
RETIRED_SEED = ["llama-3.1-8b-instruct", "llama-3-8b-instruct", "llama-2-7b-chat-fp16"]
FAST_8B = "@cf/meta/llama-3.1-8b-instruct-fast"

TODAY = {
    "@cf/openai/gpt-oss-120b": "chat_completions",
    "@cf/openai/gpt-oss-20b": "chat_completions",
    "@cf/zai-org/glm-4.7-flash": "chat_completions",
    "@cf/google/gemma-4-26b-a4b-it": "chat_completions",
    "@cf/qwen/qwen3-30b-a3b-fp8": "legacy",
    "@cf/mistralai/mistral-small-3.1-24b-instruct": "legacy",
    "@cf/meta/llama-4-scout-17b-16e-instruct": "legacy",
    "@cf/meta/llama-3.2-1b-instruct": "legacy",
    "@cf/meta/llama-3.1-8b-instruct-fast": "legacy",
    "@cf/meta/llama-3.2-3b-instruct": "legacy",
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": "legacy",
    "@cf/moonshotai/kimi-k2.6": "chat_completions",
}


def test_seed_ids_resolve_by_short_and_full_id_in_the_listed_order() -> None:
    assert [model.short_id for model in MODELS] == SEED_IDS
    for short_id in SEED_IDS:
        model = resolve_model(short_id)
        assert model.id == f"@cf/meta/{short_id}"
        assert resolve_model(model.id) is model
        assert resolve_model(f"  {model.id} ") is model


def test_todays_models_resolve_with_their_author_prefix_and_shape() -> None:
    for full_id, shape in TODAY.items():
        model = resolve_model(full_id)
        assert model.id == full_id
        assert resolve_model(model.short_id) is model
        assert model.io_shape == shape, full_id
        assert not model.retired, full_id


def test_short_ids_and_full_ids_are_unique() -> None:
    assert len({model.short_id for model in TABLE}) == len(TABLE)
    assert len({model.id for model in TABLE}) == len(TABLE)
    assert known_ids() == [model.short_id for model in TABLE]


def test_the_three_retired_seed_models_carry_date_replacement_and_deprecated() -> None:
    for short_id in RETIRED_SEED:
        model = resolve_model(short_id)
        assert model.deprecated and model.retired
        assert model.retired_on == date(2026, 5, 30)
        assert model.replacement == FAST_8B
        assert model.id in RETIRED_IDS
    active = [model for model in TABLE if model.short_id not in RETIRED_SEED]
    assert not any(model.deprecated or model.retired or model.replacement for model in active)


def test_every_replacement_resolves_to_an_active_model() -> None:
    for model in TABLE:
        if model.replacement is not None:
            target = resolve_model(model.replacement)
            assert not target.retired, model.id


def test_a_retired_model_is_served_by_its_successor_and_an_active_one_by_itself() -> None:
    retired = resolve_model("llama-3-8b-instruct")
    assert successor(retired) is resolve_model(FAST_8B)
    assert serving_model(retired) is resolve_model(FAST_8B)
    scout = resolve_model("llama-4-scout-17b-16e-instruct")
    assert successor(scout) is None
    assert serving_model(scout) is scout


def test_a_pinned_successor_answers_instead_of_the_default_one() -> None:
    pins = parse_successors("llama-3-8b-instruct=glm-4.7-flash")
    assert pins == {"@cf/meta/llama-3-8b-instruct": "@cf/zai-org/glm-4.7-flash"}
    retired = resolve_model("llama-3-8b-instruct")
    assert serving_model(retired, successors=pins).id == "@cf/zai-org/glm-4.7-flash"
    # the other retired seed models keep the default successor
    other = resolve_model("llama-2-7b-chat-fp16")
    assert serving_model(other, successors=pins).id == FAST_8B


def test_successor_setting_accepts_short_full_and_live_only_ids_with_spaces_and_commas() -> None:
    pins = parse_successors(
        " llama-3-8b-instruct = @cf/google/gemma-4-26b-a4b-it ,,"
        "@cf/meta/llama-2-7b-chat-fp16=@cf/zai-org/glm-5.3-flash, "
    )
    assert pins == {
        "@cf/meta/llama-3-8b-instruct": "@cf/google/gemma-4-26b-a4b-it",
        "@cf/meta/llama-2-7b-chat-fp16": "@cf/zai-org/glm-5.3-flash",
    }
    assert parse_successors(None) == parse_successors("  ") == {}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("llama-3-8b-instruct", "'llama-3-8b-instruct' is not RETIRED_ID=SUCCESSOR_ID"),
        ("llama-3-8b-instruct=", "is not RETIRED_ID=SUCCESSOR_ID"),
        ("a=b=c", "'a=b=c' is not RETIRED_ID=SUCCESSOR_ID"),
        ("llama-3-8b-instruct=gpt-9", "'gpt-9' is not a catalog model"),
        ("gpt-9=llama-3.2-3b-instruct", "'gpt-9' is not a catalog model"),
        ("llama-3-8b-instruct=llama-2-7b-chat-fp16", "successor 'llama-2-7b-chat-fp16' is retired"),
        ("llama-3-8b-instruct=@cf/meta/llama-3-8b-instruct", "names the same model twice"),
        ("llama-3-8b-instruct=@cf/meta/llama-3.1-70b-instruct", "70b-instruct' is retired too"),
        ("llama-3-8b-instruct=@cf/meta/llama:lora", "'@cf/meta/llama:lora' is not a catalog"),
        (
            "llama-3-8b-instruct=glm-4.7-flash,@cf/meta/llama-3-8b-instruct=gpt-oss-20b",
            "pins '@cf/meta/llama-3-8b-instruct' a second time",
        ),
        ("x=y," * 70, "more than 64 entries"),
        ("a" * 5000, "longer than 4096 characters"),
    ],
)
def test_successor_setting_errors_name_the_bad_entry(raw: str, fragment: str) -> None:
    with pytest.raises(ModelConfigError, match=r"^LLM_API_MODEL_SUCCESSORS: ") as caught:
        parse_successors(raw)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_deprecation_header_is_the_retirement_day_as_rfc_9745_date() -> None:
    for short_id in RETIRED_SEED:
        assert deprecation_header(resolve_model(short_id)) == "@1780099200"
    assert deprecation_header(resolve_model("llama-4-scout-17b-16e-instruct")) is None


def test_sunset_header_is_an_http_date_only_while_the_planned_date_is_ahead() -> None:
    planned = ModelInfo(
        "qwen3-30b-a3b-fp8", "Qwen3", 32_768, True, True, 0.051, 0.34,
        prefix="@cf/qwen/", planned_deprecation=date(2027, 1, 31),
    )  # fmt: skip
    before = 1_780_099_200.0  # 2026-05-30
    assert deprecation_header(planned) == "@1801353600"
    assert sunset_header(planned, now=before) == "Sun, 31 Jan 2027 00:00:00 GMT"
    assert sunset_header(planned, now=1_801_353_600.0) is None  # the day itself: gone
    assert sunset_header(resolve_model("llama-3-8b-instruct"), now=before) is None
    assert sunset_header(resolve_model("llama-4-scout-17b-16e-instruct"), now=before) is None


def test_a_retired_model_must_be_marked_deprecated() -> None:
    with pytest.raises(ValueError, match="a retired model is deprecated"):
        ModelInfo("x", "X", 1, False, False, 0, 0, retired_on=date(2026, 5, 30))


def test_kimi_is_workers_paid_only_and_priced_for_cached_input() -> None:
    kimi = resolve_model("kimi-k2.6")
    assert kimi.require_workers_paid
    assert [m.short_id for m in TABLE if m.require_workers_paid] == ["kimi-k2.6"]
    # 1M prompt tokens of which 400k cached, 100k completion: 0.6*0.95 + 0.4*0.16 + 0.1*4.00
    assert kimi.estimated_cost(1_000_000, 100_000, cached_tokens=400_000) == pytest.approx(1.034)
    # without a cached price, cached tokens cost the input price
    scout = resolve_model("llama-4-scout-17b-16e-instruct")
    assert scout.estimated_cost(1_000, 0, cached_tokens=500) == scout.estimated_cost(1_000, 0)


def test_reasoning_flags_follow_the_facts() -> None:
    assert resolve_model("gpt-oss-120b").forced_reasoning
    glm = resolve_model("glm-4.7-flash")
    assert glm.reasoning and not glm.forced_reasoning and glm.thinking_kwarg == "enable_thinking"
    assert resolve_model("qwen3-30b-a3b-fp8").reasoning
    assert not resolve_model("llama-4-scout-17b-16e-instruct").reasoning
    assert resolve_model("mistral-small-3.1-24b-instruct").json_param == "guided_json"
    assert {m.short_id for m in TABLE if m.small} == {
        "llama-3.2-1b-instruct",
        "llama-3.2-3b-instruct",
    }


def test_the_defaults_have_json_mode_tools_a_long_context_and_no_forced_reasoning() -> None:
    for short_id in (DEFAULT_MODEL, FAST_MODEL, TUTOR_MODEL):
        model = resolve_model(short_id)
        assert model.supports_json_mode and model.supports_tools
        assert not model.reasoning and not model.retired and not model.small
        assert model.context_window >= 128_000
        assert model.io_shape == "legacy"  # what the binding layer reads today
        assert model in MODELS  # listed by /api/llm/models
    assert Settings() == Settings.from_mapping({})
    assert Settings().tutor_model == TUTOR_MODEL


def test_an_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelNotFound) as caught:
        resolve_model("gpt-9", param="allowed_models")
    assert caught.value.param == "allowed_models"
    assert "'gpt-9' does not exist" in caught.value.message
    assert "glm-4.7-flash" in caught.value.message


def test_the_module_functions_use_the_table_catalog() -> None:
    assert catalog.TABLE_CATALOG.models() == list(TABLE)
