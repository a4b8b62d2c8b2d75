"""Issue 15, item 5: browsers running the official SDKs were refused by the CORS preflight.

The `openai` npm SDK with ``dangerouslyAllowBrowser`` always sends ``x-stainless-*``
headers and the AI SDK sends ``user-agent``; the preflight answered 403 ("headers not
allowed"). For an allowed origin the preflight now allows the headers a browser asks for,
within bounds, and still never allows credentials or an origin not on the list.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.http.cors import MAX_REQUESTED_HEADERS, MAX_REQUESTED_HEADERS_BYTES

APP = "https://app.example"
#: what Chromium asks for before `openai` 6's chat.completions.create (lower-case, sorted)
OPENAI_NPM_HEADERS = (
    "authorization,content-type,x-stainless-arch,x-stainless-lang,x-stainless-os,"
    "x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,"
    "x-stainless-runtime-version,x-stainless-timeout"
)
#: the AI SDK's providers add a `user-agent` suffix (ai-sdk/openai-compatible/...)
AI_SDK_HEADERS = "authorization,content-type,user-agent"


def client_for(platform: Platform, *origins: str) -> TestClient:
    settings = platform.settings.model_copy(update={"allowed_origins": origins})
    return TestClient(create_app(fixed_platform(replace(platform, settings=settings))))


def preflight(client: TestClient, origin: str, headers: str | None) -> object:
    asked = {"origin": origin, "access-control-request-method": "POST"}
    if headers is not None:
        asked["access-control-request-headers"] = headers
    return client.options("/v1/chat/completions", headers=asked)


def allowed_names(response) -> set[str]:
    return {name.strip() for name in response.headers["access-control-allow-headers"].split(",")}


@pytest.mark.parametrize("origins", [("*",), (APP,)])
def test_a_preflight_for_the_openai_npm_sdk_in_a_browser_is_allowed(platform, origins):
    response = preflight(client_for(platform, *origins), APP, OPENAI_NPM_HEADERS)
    assert response.status_code == 204, response.text
    assert allowed_names(response) >= set(OPENAI_NPM_HEADERS.split(","))
    assert response.headers["access-control-allow-origin"] == origins[0]
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_for_the_ai_sdk_user_agent_header_is_allowed(platform):
    response = preflight(client_for(platform, APP), APP, AI_SDK_HEADERS)
    assert response.status_code == 204, response.text
    assert allowed_names(response) >= {"authorization", "content-type", "user-agent"}


def test_a_preflight_answer_varies_by_what_it_reflects(platform):
    response = preflight(client_for(platform, APP), APP, "X-Custom-Header")
    assert response.status_code == 204
    assert "x-custom-header" in allowed_names(response)  # names are case-insensitive
    vary = {part.strip().lower() for part in response.headers["vary"].split(",")}
    assert vary == {"origin", "access-control-request-headers", "access-control-request-method"}


def test_a_preflight_asking_for_no_headers_allows_the_usual_ones(platform):
    response = preflight(client_for(platform, APP), APP, None)
    assert response.status_code == 204
    assert allowed_names(response) == {"authorization", "content-type", "x-request-id"}


def test_a_preflight_from_an_origin_not_allowed_is_still_refused(platform):
    response = preflight(client_for(platform, APP), "https://evil.example", OPENAI_NPM_HEADERS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cors_refused"
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-headers" not in response.headers


def test_a_preflight_asking_for_too_many_headers_is_refused(platform):
    names = ",".join(f"x-h{i}" for i in range(MAX_REQUESTED_HEADERS + 1))
    response = preflight(client_for(platform, APP), APP, names)
    assert response.status_code == 403
    assert "access-control-allow-headers" not in response.headers
    assert f"more than {MAX_REQUESTED_HEADERS}" in response.json()["error"]["message"]
    fits = ",".join(f"x-h{i}" for i in range(MAX_REQUESTED_HEADERS))
    assert preflight(client_for(platform, APP), APP, fits).status_code == 204


def test_a_preflight_with_an_oversized_header_list_is_refused_without_echoing_it(platform):
    names = "x-" + "a" * MAX_REQUESTED_HEADERS_BYTES
    response = preflight(client_for(platform, APP), APP, names)
    assert response.status_code == 403
    assert len(response.content) < 400  # the refusal never echoes the request back


@pytest.mark.parametrize("name", ["x bad", "x(bad)", "x-bad;", "x\u00e9"])
def test_a_preflight_asking_for_a_header_name_that_is_not_a_token_is_refused(platform, name):
    headers = {
        b"origin": APP.encode(),
        b"access-control-request-method": b"POST",
        b"access-control-request-headers": f"authorization,{name}".encode(),  # é as UTF-8
    }
    response = client_for(platform, APP).options("/v1/chat/completions", headers=headers)
    assert response.status_code == 403
    assert "access-control-allow-headers" not in response.headers


@pytest.mark.parametrize(
    "header",
    ["x-request-id", "retry-after", "retry-after-ms", "x-should-retry",
     "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "openai-processing-ms"],
)  # fmt: skip
def test_responses_expose_the_headers_the_sdks_read(platform, header):
    response = client_for(platform, APP).get("/v1/models", headers={"origin": APP})
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert header in exposed
    assert "access-control-allow-credentials" not in response.headers


def test_a_response_to_an_origin_not_allowed_still_varies_by_origin(platform):
    """A shared cache must not hand the answer without CORS headers to an allowed origin."""
    response = client_for(platform, APP).get("/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"
