"""Issue 14 items 1-3 over ASGI: retired ids answered by their successors with ``Deprecation``,
the successor setting, the listings, a live catalog (a binding with ``list_models``), a planned
deprecation's ``Deprecation``/``Sunset``, and a 5028 at run time."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.binding.upstream_errors import from_workers_ai_message
from llm_api.catalog.lifecycle import unix_time
from llm_api.errors import ModelNotFound
from llm_api.keys import MemoryKeyStore, new_key
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.services.keys import create_key
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.model_listing import NEWCOMER, NEWCOMER_ENTRY, binding_listing
from tests.support.scripted_ai import ScriptedAI
from tests.support.sse import sse_data
from tests.support.tutor_seed import SEED_FEEDBACK

RETIRED_DEPRECATION = "@1780099200"  # 2026-05-30T00:00:00Z, the retirement [D]
SUCCESSOR = "@cf/meta/llama-3.1-8b-instruct-fast"

# (path, body, stream) for each family: native generate and chat, /v1, REST v1
FAMILIES = [
    ("/api/llm/generate", {"prompt": "hi"}),
    ("/api/llm/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ("/api/v1/llm/chat", {"messages": [{"role": "user", "content": "hi"}]}),
]


class ListingAI(ScriptedAI):
    """The scripted binding with a live model list (``ModelSource``)."""

    def __init__(self, listing: list[dict[str, Any]]) -> None:
        super().__init__()
        self.listing = listing
        self.listings = 0

    async def list_models(self) -> list[Any]:
        self.listings += 1
        return self.listing


def make_client(ai: Any, **settings: Any) -> TestClient:
    platform = Platform(
        ai=ai,
        settings=Settings(backend_retries=0, **settings),
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
    )
    key, record = new_key("tests")
    asyncio.run(platform.keys.put(record))
    app = create_app(fixed_platform(platform))
    headers = {"authorization": f"Bearer {key}"}
    return TestClient(app, raise_server_exceptions=False, headers=headers)


def answered_model(response: Any, path: str, stream: bool) -> str | None:
    """The ``model`` the answer names (native streams name none)."""
    if not stream:
        return response.json().get("model")
    events = [data for data in sse_data(response.text) if data != "[DONE]"]
    return next((event["model"] for event in events if "model" in event), None)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("path", "body"), FAMILIES, ids=[p for p, _ in FAMILIES])
@pytest.mark.parametrize(
    "retired", ["llama-3.1-8b-instruct", "llama-3-8b-instruct", "@cf/meta/llama-2-7b-chat-fp16"]
)
def test_a_retired_id_is_answered_by_its_successor_with_deprecation(
    client, ai, path, body, stream, retired
):
    response = client.post(path, json={**body, "model": retired, "stream": stream})
    assert response.status_code == 200, response.text
    assert ai.calls[0]["model"] == SUCCESSOR
    assert response.headers["deprecation"] == RETIRED_DEPRECATION
    assert "sunset" not in response.headers  # it is gone, not going
    if not (stream and path.startswith("/api/llm/")):
        assert answered_model(response, path, stream) == SUCCESSOR


def test_an_active_seed_model_has_no_deprecation_header(client, ai):
    response = client.post(
        "/api/llm/generate", json={"prompt": "hi", "model": "llama-3.2-3b-instruct"}
    )
    assert response.status_code == 200
    assert "deprecation" not in response.headers
    assert ai.calls[0]["model"] == "@cf/meta/llama-3.2-3b-instruct"


@pytest.mark.parametrize(("path", "body"), FAMILIES, ids=[p for p, _ in FAMILIES])
def test_the_successor_setting_overrides_the_catalogs(path, body):
    ai = ScriptedAI()
    client = make_client(ai, model_successors="llama-3-8b-instruct=glm-4.7-flash")
    response = client.post(path, json={**body, "model": "llama-3-8b-instruct"})
    assert response.status_code == 200, response.text
    assert ai.calls[0]["model"] == "@cf/zai-org/glm-4.7-flash"
    assert response.headers["deprecation"] == RETIRED_DEPRECATION
    # unpinned retired models keep the catalog's successor
    other = client.post(path, json={**body, "model": "llama-2-7b-chat-fp16"})
    assert ai.calls[1]["model"] == SUCCESSOR and other.status_code == 200


def test_a_malformed_successor_setting_is_a_start_up_error():
    with pytest.raises(ValueError, match="LLM_API_MODEL_SUCCESSORS"):
        Settings(model_successors="llama-3-8b-instruct=gpt-9")


def test_the_native_listing_marks_retired_models_and_names_their_replacement(client):
    models = {m["id"]: m for m in client.get("/api/llm/models").json()["models"]}
    assert models["@cf/meta/llama-3.1-8b-instruct"] == {
        "id": "@cf/meta/llama-3.1-8b-instruct",
        "name": "Llama 3.1 8B",
        "contextWindow": 7968,
        "supportsTools": False,
        "costPerMInput": 0.28,
        "costPerMOutput": 0.83,
        "deprecated": True,
        "retiredOn": "2026-05-30",
        "replacement": SUCCESSOR,
    }
    assert "deprecated" not in models["@cf/meta/llama-3.2-3b-instruct"]


def test_the_v1_model_objects_mark_retired_models_and_name_the_author(client):
    entry = client.get("/v1/models/llama-3-8b-instruct").json()
    assert entry["owned_by"] == "meta"
    assert entry["deprecated"] is True
    assert entry["retired_on"] == "2026-05-30" and entry["replacement"] == SUCCESSOR
    assert client.get("/v1/models/kimi-k2.6").json()["owned_by"] == "moonshotai"
    assert "deprecated" not in client.get("/v1/models/kimi-k2.6").json()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_model_only_the_live_list_knows_is_listed_and_callable(stream):
    ai = ListingAI([*binding_listing(), NEWCOMER_ENTRY])
    client = make_client(ai)
    native = {m["id"]: m for m in client.get("/api/llm/models").json()["models"]}
    assert native[NEWCOMER]["contextWindow"] == 65536
    assert native[NEWCOMER]["supportsTools"] is True
    assert native[NEWCOMER]["costPerMInput"] == 0.1
    assert NEWCOMER in [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert client.get(f"/v1/models/{NEWCOMER}").json()["owned_by"] == "example-lab"
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = {"model": "newcomer-7b-instruct", "stream": stream, "tools": [tool],
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert ai.calls[-1]["model"] == NEWCOMER
    assert answered_model(response, "/v1/chat/completions", stream) == NEWCOMER
    assert ai.listings == 1  # cached: one listing for the isolate's TTL


def test_without_a_live_list_the_listing_is_the_table():
    client = make_client(ScriptedAI())
    ids = [m["id"] for m in client.get("/api/llm/models").json()["models"]]
    assert NEWCOMER not in ids and "@cf/zai-org/glm-4.7-flash" in ids
    body = {"model": NEWCOMER, "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=body).status_code == 404


def test_a_planned_deprecation_date_adds_deprecation_and_sunset_before_it():
    listing = binding_listing()
    qwen3 = copy.deepcopy(next(e for e in listing if e["name"].endswith("qwen3-30b-a3b-fp8")))
    planned = datetime.now(UTC).date() + timedelta(days=60)
    for prop in qwen3["properties"]:
        if prop["property_id"] == "planned_deprecation_date":
            prop["value"] = planned.isoformat()
    ai = ListingAI([qwen3])
    client = make_client(ai)
    response = client.post("/api/llm/generate", json={"prompt": "hi", "model": "qwen3-30b-a3b-fp8"})
    assert response.status_code == 200
    assert ai.calls[0]["model"] == "@cf/qwen/qwen3-30b-a3b-fp8"  # still served by itself
    assert response.headers["deprecation"] == f"@{unix_time(planned)}"
    sunset = parsedate_to_datetime(response.headers["sunset"])
    assert sunset.date() == planned and sunset.tzinfo is not None


def test_a_planned_date_that_has_passed_keeps_deprecation_without_sunset():
    listing = [copy.deepcopy(next(e for e in binding_listing() if "qwen3" in e["name"]))]
    passed = date(2026, 1, 31)
    for prop in listing[0]["properties"]:
        if prop["property_id"] == "planned_deprecation_date":
            prop["value"] = passed.isoformat()
    client = make_client(ListingAI(listing))
    response = client.post("/api/llm/generate", json={"prompt": "hi", "model": "qwen3-30b-a3b-fp8"})
    assert response.status_code == 200  # the 5028 is the proof it is gone, not the date
    assert response.headers["deprecation"] == f"@{unix_time(passed)}"
    assert "sunset" not in response.headers


RETIRED_5028 = "5028: This model was deprecated on 2026-05-30. Please use an alternative model"


@pytest.mark.parametrize(("path", "body"), FAMILIES, ids=[p for p, _ in FAMILIES])
def test_a_5028_marks_the_model_retired_and_answers_410_naming_a_successor(path, body):
    ai = ScriptedAI()
    ai.script(raise_error=from_workers_ai_message(RETIRED_5028))
    client = make_client(ai)
    request = {**body, "model": "qwen3-30b-a3b-fp8"}
    response = client.post(path, json=request)
    assert response.status_code == 410, response.text
    text = response.text
    assert "qwen3-30b-a3b-fp8" in text and "LLM_API_MODEL_SUCCESSORS" in text
    assert len(ai.calls) == 1
    # from now on the catalog knows: no second call to the platform, and the listing says so
    again = client.post(path, json=request)
    assert again.status_code == 410 and len(ai.calls) == 1
    entry = next(
        m
        for m in client.get("/api/llm/models").json()["models"]
        if m["id"].endswith("qwen3-30b-a3b-fp8")
    )
    assert entry["deprecated"] is True
    assert entry["retiredOn"] == datetime.now(UTC).date().isoformat()
    assert "replacement" not in entry


def test_a_5028_with_a_pinned_successor_is_answered_by_it_at_once():
    ai = ScriptedAI()
    ai.script(raise_error=from_workers_ai_message(RETIRED_5028))
    client = make_client(ai, model_successors="qwen3-30b-a3b-fp8=glm-4.7-flash")
    body = {"model": "qwen3-30b-a3b-fp8", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert [call["model"] for call in ai.calls] == [
        "@cf/qwen/qwen3-30b-a3b-fp8",
        "@cf/zai-org/glm-4.7-flash",
    ]
    assert response.json()["model"] == "@cf/zai-org/glm-4.7-flash"
    today = datetime.now(UTC).date()
    assert response.headers["deprecation"] == f"@{unix_time(today)}"


def test_a_tutor_request_for_a_retired_model_checks_its_successors_json_mode(client, ai):
    # llama-3-8b-instruct had JSON mode; llama-3.1-8b-instruct-fast, which answers for it,
    # is not known to have it: refused before any model call rather than sent without it
    body = {**SEED_FEEDBACK, "model": "llama-3-8b-instruct"}
    response = client.post("/api/llm/level-feedback", json=body)
    assert response.status_code == 400, response.text
    assert "llama-3.1-8b-instruct-fast" in response.json()["error"]
    assert ai.calls == []


def test_a_key_may_be_limited_to_a_model_only_the_live_list_knows():
    store = MemoryKeyStore()
    created = asyncio.run(create_key(store, "live", models=[NEWCOMER, "glm-4.7-flash"]))
    assert created.allowed_models == ["@cf/example-lab/newcomer-7b-instruct",
                                      "@cf/zai-org/glm-4.7-flash"]  # fmt: skip
    with pytest.raises(ModelNotFound, match="newcomer-7b-instruct"):
        asyncio.run(create_key(store, "short", models=["newcomer-7b-instruct"]))
