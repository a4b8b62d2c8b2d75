"""Body size, media type, UTF-8 and nesting checks, in every family's envelope."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import fixed_platform

ROUTES = {
    "native": "/api/llm/generate",
    "v1": "/api/v1/llm/chat",
    "openai": "/v1/chat/completions",
}


@pytest.fixture
def small(platform, api_key) -> TestClient:
    limited = replace(
        platform, settings=platform.settings.model_copy(update={"max_body_bytes": 200})
    )
    headers = {"authorization": f"Bearer {api_key}"}
    return TestClient(create_app(fixed_platform(limited)), headers=headers)


def message_of(family: str, body: dict) -> str:
    return body["error"] if family == "native" else body["error"]["message"]


@pytest.mark.parametrize("family", ROUTES)
def test_a_body_over_the_limit_is_413(small, ai, family):
    response = small.post(ROUTES[family], json={"prompt": "x" * 300})
    assert response.status_code == 413
    assert message_of(family, response.json()) == "Request body is larger than 200 bytes"
    assert ai.calls == []


def test_a_chunked_body_over_the_limit_is_413_too(small):
    def chunks():
        yield b'{"prompt": "'
        yield b"x" * 300
        yield b'"}'

    response = small.post(
        ROUTES["native"], content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("family", ROUTES)
def test_a_non_json_content_type_is_415(client, family):
    response = client.post(
        ROUTES[family], content=b"prompt=hi", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in message_of(family, response.json())


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = client.post(
            ROUTES["native"], content=b'{"prompt": "hi"}', headers={"content-type": content_type}
        )
        assert response.status_code == 200, content_type


def test_invalid_utf8_is_a_400(client):
    response = client.post(
        ROUTES["native"],
        content=b'{"prompt": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Request body is not valid UTF-8 (byte 12)"}


def test_deep_nesting_is_a_400_but_brackets_in_strings_are_fine(client):
    deep = "[" * 100 + "]" * 100
    response = client.post(
        ROUTES["openai"],
        content=f'{{"model": "llama-3-8b-instruct", "messages": {deep}}}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "deeper than 64 levels" in response.json()["error"]["message"]
    shallow = client.post(ROUTES["native"], json={"prompt": "[" * 200})
    assert shallow.status_code == 200


@pytest.mark.parametrize("family", ROUTES)
def test_a_body_without_content_type_is_read_as_json(client, family):
    """Issue 12 (b): such a body was refused with "must be a JSON object"."""
    body = (
        {"prompt": "hi"}
        if family == "native"
        else {"messages": [{"role": "user", "content": "hi"}]}
    )
    if family == "openai":
        body["model"] = "llama-3-8b-instruct"
    response = client.post(ROUTES[family], content=json.dumps(body).encode())
    assert "content-type" not in response.request.headers
    assert response.status_code == 200, response.text
