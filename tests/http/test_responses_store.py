"""Stored responses: `store`, `GET` / `DELETE /v1/responses/{id}`, `previous_response_id`
and `item_reference`, per API key, and the record's bound."""

from __future__ import annotations

import asyncio

import pytest

from llm_api import stored_responses
from llm_api.keys import new_key
from llm_api.services import responses as responses_service
from tests.support.responses_sdk import sdk_events, sdk_response

MODEL = "llama-3.3-70b-instruct-fp8-fast"
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def create(client, headers=None, **fields):
    payload = {"model": MODEL, **fields}
    payload.setdefault("input", "hi there")
    return client.post("/v1/responses", json=payload, headers=headers)


@pytest.fixture
def other_key(platform) -> dict[str, str]:
    key, record = new_key("someone else")
    asyncio.run(platform.keys.put(record))
    return {"authorization": f"Bearer {key}"}


def test_a_stored_response_is_returned_by_get(client):
    created = create(client).json()
    fetched = client.get(f"/v1/responses/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    sdk_response(fetched.json())


def test_a_streamed_response_is_stored_before_it_completes(client):
    events = sdk_events(create(client, stream=True).text)
    final = events[-1]["response"]
    assert client.get(f"/v1/responses/{final['id']}").json() == final


def test_store_false_keeps_nothing(client):
    created = create(client, store=False).json()
    assert created["store"] is False
    missing = client.get(f"/v1/responses/{created['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": f"Response with id '{created['id']}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": "response_not_found",
    }


def test_previous_response_id_continues_the_conversation(client, ai):
    first = create(client, input="my name is Ada", instructions="be brief").json()
    second = create(client, input="what is my name?", previous_response_id=first["id"])
    assert second.status_code == 200
    assert second.json()["previous_response_id"] == first["id"]
    assert ai.calls[1]["inputs"]["messages"] == [  # instructions are not carried over
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "echo: my name is Ada"},
        {"role": "user", "content": "what is my name?"},
    ]
    third = create(client, input="and now?", previous_response_id=second.json()["id"])
    assert len(ai.calls[2]["inputs"]["messages"]) == 5 and third.status_code == 200


def test_function_tool_round_trip_with_previous_response_id(client, ai):
    ai.script(text="", tool_calls=[{"name": "get_weather", "arguments": {"city": "Lyon"}}])
    first = create(client, input="weather in Lyon?", tools=[WEATHER]).json()
    [call] = first["output"]
    ai.script(text="It is sunny in Lyon.")
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    second = create(client, input=[output], previous_response_id=first["id"], tools=[WEATHER])
    assert sdk_response(second.json()).output_text == "It is sunny in Lyon."
    assert ai.calls[1]["inputs"]["messages"] == [
        {"role": "user", "content": "weather in Lyon?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": call["call_id"], "name": "get_weather", "arguments": {"city": "Lyon"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call["call_id"],
            "content": "sunny",
            "name": "get_weather",
        },
    ]


def test_item_reference_replays_a_stored_output_item(client, ai):
    first = create(client, input="say hi").json()
    reference = {"type": "item_reference", "id": first["output"][0]["id"]}
    replay = [
        {"role": "user", "content": "say hi"},
        reference,
        {"role": "user", "content": "again"},
    ]
    assert create(client, input=replay, store=False).status_code == 200
    assert ai.calls[1]["inputs"]["messages"][1] == {
        "role": "assistant",
        "content": "echo: say hi",
    }


def test_item_references_to_one_response_load_it_once(client, ai, platform, monkeypatch):
    """The AI SDK references every output item of the last answer: one load, not one each."""
    ai.script(text="", tool_calls=[{"name": "get_weather", "arguments": {}}] * 2)
    first = create(client, input="weather twice", tools=[WEATHER]).json()
    assert len(first["output"]) == 2
    loads: list[str] = []
    load = platform.responses.load

    async def counted(key_id: str, response_id: str) -> str | None:
        loads.append(response_id)
        return await load(key_id, response_id)

    monkeypatch.setattr(platform.responses, "load", counted)
    references = [{"type": "item_reference", "id": item["id"]} for item in first["output"]]
    outputs = [
        {"type": "function_call_output", "call_id": item["call_id"], "output": "sunny"}
        for item in first["output"]
    ]
    ai.script(text="sunny twice")
    answer = create(client, input=[*references, *outputs], tools=[WEATHER], store=False)
    assert answer.status_code == 200, answer.text
    assert loads == [first["id"]]


def test_unknown_previous_response_id_is_404(client, ai):
    response = create(client, previous_response_id="resp_" + "0" * 32)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["param"] == "previous_response_id"
    assert error["code"] == "previous_response_not_found"
    assert ai.calls == []


def test_a_key_never_sees_another_keys_responses(client, other_key, ai):
    mine = create(client).json()
    unknown = "resp_" + "f" * 32
    for response_id in (mine["id"], unknown):
        theirs = client.get(f"/v1/responses/{response_id}", headers=other_key)
        assert theirs.status_code == 404
        assert theirs.json()["error"]["message"] == f"Response with id '{response_id}' not found."
    continued = create(client, headers=other_key, previous_response_id=mine["id"])
    assert continued.status_code == 404
    reference = [{"type": "item_reference", "id": mine["output"][0]["id"]}]
    assert create(client, headers=other_key, input=reference).status_code == 404
    assert client.delete(f"/v1/responses/{mine['id']}", headers=other_key).status_code == 404
    assert client.get(f"/v1/responses/{mine['id']}").json() == mine  # still mine, intact
    assert len(ai.calls) == 1


def test_delete_removes_a_stored_response(client):
    created = create(client).json()
    deleted = client.delete(f"/v1/responses/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "object": "response", "deleted": True}
    assert client.get(f"/v1/responses/{created['id']}").status_code == 404
    assert client.delete(f"/v1/responses/{created['id']}").status_code == 404


def test_conversation_over_the_record_bound_is_400_before_generating(client, ai, monkeypatch):
    monkeypatch.setattr(responses_service, "MAX_RECORD_BYTES", 200)
    response = create(client, input="x" * 300)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"
    assert ai.calls == []
    assert create(client, input="x" * 300, store=False).status_code == 200


def test_answer_over_the_record_bound_is_answered_but_not_kept(client, ai, monkeypatch):
    monkeypatch.setattr(stored_responses, "MAX_RECORD_BYTES", 2_000)  # the stores' bound
    ai.script(text="y" * 3_000)
    response = create(client, input="short")
    assert response.status_code == 200
    body = response.json()
    assert body["store"] is False and sdk_response(body).output_text == "y" * 3_000
    assert client.get(f"/v1/responses/{body['id']}").status_code == 404


class FailingStore:
    """A store whose saves fail (a Durable Object unreachable, a full disk)."""

    async def save(self, key_id, response_id, record, *, created_at):
        raise OSError("disk full")

    async def load(self, key_id, response_id):
        return None

    async def delete(self, key_id, response_id):
        return False


def test_a_store_failure_answers_with_store_false(platform, client, ai):
    platform.responses = FailingStore()
    body = create(client).json()
    assert sdk_response(body).output_text == "echo: hi there"
    assert body["store"] is False
    events = sdk_events(create(client, stream=True).text)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["store"] is False
