"""Keys, rate limits, usage, the admin API and CORS, over ASGI."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.errors import BackendError
from llm_api.keys import new_key
from llm_api.platform.local.limiter import InProcessLimiter

ADMIN = "admin-secret-token"
GENERATE = ("/api/llm/generate", {"prompt": "hi"})


def make_client(platform: Platform, **headers: str) -> TestClient:
    return TestClient(create_app(fixed_platform(platform)), headers=headers)


def add_key(platform: Platform, **fields) -> str:
    key, record = new_key(fields.pop("name", "extra"), **fields)
    asyncio.run(platform.keys.put(record))
    return key


@pytest.fixture
def anonymous(platform: Platform) -> TestClient:
    return make_client(platform)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/llm/generate", {"error": "Missing or invalid API key; send it as "
                               "'Authorization: Bearer <key>'"}),
        ("/api/v1/llm/chat", {"error": {"code": "UNAUTHORIZED", "message": "Missing or invalid "
                              "API key; send it as 'Authorization: Bearer <key>'",
                              "details": {"retryable": False}}}),
        ("/v1/chat/completions", {"error": {"message": "Missing or invalid API key; send it as "
                                  "'Authorization: Bearer <key>'", "type": "authentication_error",
                                  "param": None, "code": "invalid_api_key"}}),
        ("/api/llm/no-such-route", None),
    ],
)  # fmt: skip
def test_missing_key_is_401_in_the_family_envelope(anonymous, ai, path, body):
    response = anonymous.post(path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    if body is not None:
        assert response.json() == body
    assert ai.calls == []


@pytest.mark.parametrize(
    "authorization",
    ["Bearer nope", "Bearer llmk_abcdefghijkl_wrongsecret", "Basic abc", "Bearer ", "llmk_x"],
)
def test_wrong_keys_get_the_same_401_and_are_not_echoed(platform, api_key, authorization):
    response = make_client(platform, authorization=authorization).post(*GENERATE[:1], json={})
    assert response.status_code == 401
    assert "llmk_" not in response.text and "nope" not in response.text


def test_a_key_with_another_secret_for_a_real_id_is_refused(platform, api_key):
    forged = api_key.rsplit("_", 1)[0] + "_" + "A" * 43
    assert (
        make_client(platform, authorization=f"Bearer {forged}").get("/v1/models").status_code == 401
    )


def test_open_paths_need_no_key(anonymous):
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


def test_authenticated_responses_carry_rate_limit_headers(client):
    response = client.post(*GENERATE[:1], json=GENERATE[1])
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit-requests"] == "100"
    assert response.headers["x-ratelimit-remaining-requests"] == "99"
    assert response.headers["x-ratelimit-reset-requests"] == "1m0s"
    assert response.headers["ratelimit-policy"] == '"default";q=100;w=60'
    assert response.headers["ratelimit"] == '"default";r=99;t=60'


def test_150_concurrent_requests_with_one_key_admit_exactly_100(platform, api_key):
    app = create_app(fixed_platform(platform))

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as http:
            responses = await asyncio.gather(
                *(http.post("/api/llm/generate", json={"prompt": "x"}) for _ in range(150))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(run())
    assert statuses.count(200) == 100
    assert statuses.count(429) == 50


@pytest.mark.parametrize(
    ("path", "payload", "check"),
    [
        ("/api/llm/generate", {"prompt": "x"}, lambda b: "Rate limit of 2" in b["error"]),
        (
            "/api/v1/llm/chat",
            {"messages": [{"role": "user", "content": "x"}]},
            lambda b: (
                b["error"]["code"] == "RATE_LIMIT_EXCEEDED" and b["error"]["details"]["retryable"]
            ),
        ),
        (
            "/v1/chat/completions",
            {"model": "llama-3-8b-instruct", "messages": [{"role": "user", "content": "x"}]},
            lambda b: b["error"]["type"] == "rate_limit_error",
        ),
    ],
)
def test_429_has_retry_after_and_the_family_envelope(platform, ai, path, payload, check):
    now = [0.0]
    platform = replace(platform, limiter=InProcessLimiter(clock=lambda: now[0]))
    key = add_key(platform, rpm=2)
    client = make_client(platform, authorization=f"Bearer {key}")
    assert [client.post(path, json=payload).status_code for _ in range(2)] == [200, 200]
    now[0] = 58.9996  # a slot frees in 1.0004 s: a client waiting 1 s would be refused again
    refused = client.post(path, json=payload)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert check(refused.json())
    assert len(ai.calls) == 2


def test_refused_requests_do_not_consume_quota(platform):
    key = add_key(platform, rpm=3)
    client = make_client(platform, authorization=f"Bearer {key}")
    make_client(platform).post(*GENERATE[:1], json=GENERATE[1])  # 401: not counted
    statuses = [client.post(*GENERATE[:1], json=GENERATE[1]).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    log = platform.limiter.log(key.split("_")[1])  # type: ignore[attr-defined]
    assert len(log) == 3


def test_invalid_requests_do_not_spend_quota(platform, ai):
    """Issue 12 (a): only requests that reach the model, or are answered with a success,
    count; 400, 403, 404, 405, 413 and 415 are the request's fault and count not at all."""
    key = add_key(platform, rpm=3, allowed_models=["@cf/meta/llama-3-8b-instruct"])
    client = make_client(platform, authorization=f"Bearer {key}")
    small = replace(platform, settings=platform.settings.model_copy(update={"max_body_bytes": 100}))
    small_client = make_client(small, authorization=f"Bearer {key}")
    generate = "/api/llm/generate"
    invalid = [
        (client.post(generate, json={}), 400),  # no prompt
        (client.post(generate, content=b"{", headers={"content-type": "application/json"}), 400),
        (client.post(generate, json={"prompt": "x"}), 403),  # the key's models exclude it
        (client.post("/api/llm/no-such-route", json={}), 404),
        (client.get("/v1/models/no-such-model"), 404),
        (client.get(generate), 405),
        (small_client.post(generate, json={"prompt": "x" * 200}), 413),
        (client.post(generate, content=b"x", headers={"content-type": "text/plain"}), 415),
    ]
    assert [response.status_code for response, _ in invalid] == [status for _, status in invalid]
    for response, _ in invalid:  # not counted, so no count to report
        assert "x-ratelimit-remaining-requests" not in response.headers
    assert ai.calls == []
    assert platform.limiter.log(key.split("_")[1]) == []  # type: ignore[attr-defined]

    allowed = {"prompt": "x", "model": "llama-3-8b-instruct"}
    first = client.post(generate, json=allowed)
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining-requests"] == "2"
    ai.script(raise_error=BackendError("broken"))  # reached the model: counts
    assert client.post(generate, json=allowed).status_code == 502
    listed = client.get("/v1/models")  # a success counts too
    assert listed.status_code == 200 and listed.headers["x-ratelimit-remaining-requests"] == "0"
    assert client.post(generate, json=allowed).status_code == 429
    assert client.get("/v1/models").status_code == 429
    assert len(ai.calls) == 2


def test_a_request_calling_the_model_several_times_counts_once(platform, ai):
    key = add_key(platform, rpm=5)
    client = make_client(platform, authorization=f"Bearer {key}")
    ai.script(text="not json")  # the tutor shows the model its mistake: a second call
    response = client.post(
        "/api/llm/conversation-topics",
        json={"level": "B1", "interests": ["travel"], "language": "English", "count": 1},
    )
    assert len(ai.calls) == 2
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert len(platform.limiter.log(key.split("_")[1])) == 1  # type: ignore[attr-defined]


def test_two_keys_do_not_share_quota(platform):
    first, second = add_key(platform, rpm=1), add_key(platform, rpm=1)
    one = make_client(platform, authorization=f"Bearer {first}")
    two = make_client(platform, authorization=f"Bearer {second}")
    assert one.post(*GENERATE[:1], json=GENERATE[1]).status_code == 200
    assert one.post(*GENERATE[:1], json=GENERATE[1]).status_code == 429
    assert two.post(*GENERATE[:1], json=GENERATE[1]).status_code == 200


def test_a_stream_counts_once_and_records_its_usage(client):
    with client.stream("POST", "/api/llm/generate", json={"prompt": "a b", "stream": True}) as r:
        assert r.headers["x-ratelimit-remaining-requests"] == "99"
        r.read()
    usage = client.get("/api/llm/usage").json()
    assert client.get("/api/llm/usage").headers["x-ratelimit-remaining-requests"] == "97"
    (today,) = usage["days"]
    assert today["requests"] == 1
    assert (today["prompt_tokens"], today["completion_tokens"]) == (2, 3)


def test_usage_reports_tokens_and_cost_per_day(client, ai):
    ai.script(usage={"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000})
    client.post("/api/llm/generate", json={"prompt": "x", "model": "llama-3.2-3b-instruct"})
    body = client.get("/api/llm/usage").json()
    assert body["name"] == "tests"
    assert body["totals"]["requests"] == 1
    assert body["totals"]["prompt_tokens"] == 1000
    assert body["totals"]["cost_usd"] == pytest.approx((1000 * 0.051 + 2000 * 0.34) / 1e6)


def test_a_key_limited_to_some_models_gets_403_for_others(platform):
    key = add_key(platform, allowed_models=["@cf/meta/llama-3-8b-instruct"])
    client = make_client(platform, authorization=f"Bearer {key}")
    allowed = client.post("/api/llm/generate", json={"prompt": "x", "model": "llama-3-8b-instruct"})
    assert allowed.status_code == 200
    refused = client.post("/api/llm/generate", json={"prompt": "x"})
    assert refused.status_code == 403
    assert "may not use '@cf/meta/llama-4-scout-17b-16e-instruct'" in refused.json()["error"]


@pytest.fixture
def admin_platform(platform):
    return replace(platform, settings=platform.settings.model_copy(update={"admin_token": ADMIN}))


def test_admin_api_creates_lists_revokes_and_shows_usage(admin_platform, ai):
    admin = make_client(admin_platform, authorization=f"Bearer {ADMIN}")
    created = admin.post(
        "/admin/keys",
        json={"name": "frontend", "rpm": 5, "allowed_models": ["llama-3-8b-instruct"]},
    )
    assert created.status_code == 201
    body = created.json()
    key, key_id = body["key"], body["key_id"]
    assert body["allowed_models"] == ["@cf/meta/llama-3-8b-instruct"]
    listed = admin.get("/admin/keys").json()["keys"]
    assert [k["key_id"] for k in listed if k["name"] == "frontend"] == [key_id]
    assert key not in json.dumps(listed) and "key_hash" not in json.dumps(listed)

    user = make_client(admin_platform, authorization=f"Bearer {key}")
    assert (
        user.post(
            "/api/llm/generate", json={"prompt": "x", "model": "llama-3-8b-instruct"}
        ).status_code
        == 200
    )
    usage = admin.get(f"/admin/keys/{key_id}/usage").json()
    assert usage["totals"]["requests"] == 1

    assert admin.delete(f"/admin/keys/{key_id}").json() == {"key_id": key_id, "revoked": True}
    assert user.post(*GENERATE[:1], json=GENERATE[1]).status_code == 401
    assert admin.delete("/admin/keys/zzzzzzzzzzzz").status_code == 404


def test_admin_api_needs_the_admin_token(admin_platform, platform, api_key):
    assert make_client(admin_platform).get("/admin/keys").status_code == 401
    wrong = make_client(admin_platform, authorization="Bearer guess")
    assert wrong.get("/admin/keys").status_code == 401
    as_user = make_client(admin_platform, authorization=f"Bearer {api_key}")
    assert as_user.get("/admin/keys").status_code == 401
    disabled = make_client(platform, authorization="Bearer anything").get("/admin/keys")
    assert disabled.status_code == 401
    assert "ADMIN_TOKEN is not set" in disabled.json()["error"]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (f"Bearer {ADMIN}", 200),
        (f"bearer {ADMIN}", 200),
        (f"BEARER  {ADMIN}", 200),
        (ADMIN, 401),  # the scheme is required
        (f"Basic {ADMIN}", 401),
        (f"Bearer{ADMIN}", 401),
    ],
)
def test_the_bearer_scheme_is_required_in_any_case_for_keys_and_admin(
    admin_platform, api_key, authorization, status
):
    """Issue 12 (c): one parser for both; before, the admin token was accepted with no
    scheme and refused with a lowercase ``bearer``."""
    admin = make_client(admin_platform, authorization=authorization)
    assert admin.get("/admin/keys").status_code == status
    as_key = make_client(admin_platform, authorization=authorization.replace(ADMIN, api_key))
    assert as_key.get("/v1/models").status_code == status


def test_unauthenticated_admin_requests_are_401_before_the_body_is_read(admin_platform):
    """Issue 12 (d): bad JSON to /admin/keys without the token was a 400, not a 401."""
    anonymous = make_client(admin_platform)
    for headers in ({}, {"authorization": "Bearer guess"}):
        response = anonymous.post(
            "/admin/keys",
            content=b"{not json",
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 401
        assert response.json()["error"].startswith("Missing or invalid admin token")


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/admin/keys", {}, 401),
        ("POST", "/admin/keys", {"authorization": "Bearer guess"}, 401),
        ("POST", "/api/llm/generate", {}, 401),
        ("POST", "/v1/chat/completions", {"authorization": "Bearer llmk_x_y"}, 401),
        ("POST", "/health", {}, 405),
        ("POST", "/no-such-path", {}, 404),
        ("PUT", "/", {}, 404),
    ],
)
def test_unauthenticated_bodies_are_never_read(admin_platform, method, path, headers, status):
    """Issue 12 (4): a body is read only once the request is authenticated; before,
    1 MB bodies to /admin/keys were buffered before the token was checked."""
    app = create_app(fixed_platform(admin_platform))
    received: list[dict] = []
    sent: list[dict] = []

    async def receive() -> dict:
        received.append({})
        return {"type": "http.request", "body": b"{" + b" " * 999_998 + b"}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8787),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000000"),
                    *((k.encode(), v.encode()) for k, v in headers.items())],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == status
    assert received == []


def test_admin_create_validates_its_input(admin_platform):
    admin = make_client(admin_platform, authorization=f"Bearer {ADMIN}")
    assert admin.post("/admin/keys", json={"name": ""}).status_code == 400
    assert admin.post("/admin/keys", json={"name": "x", "rpm": 0}).status_code == 400
    bad_model = admin.post("/admin/keys", json={"name": "x", "allowed_models": ["gpt"]})
    assert bad_model.status_code == 400


def test_cors_preflight_needs_no_key_and_allows_auth_headers(anonymous):
    response = anonymous.options(
        "/v1/chat/completions",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert (
        response.headers["access-control-allow-headers"]
        == "authorization, content-type, x-request-id"
    )


def test_cors_headers_expose_quota_and_request_id_even_on_401(anonymous, client):
    for c in (anonymous, client):
        response = c.post(
            *GENERATE[:1], json=GENERATE[1], headers={"origin": "https://app.example"}
        )
        assert response.headers["access-control-allow-origin"] == "*"
        exposed = response.headers["access-control-expose-headers"]
        assert "x-ratelimit-remaining-requests" in exposed and "x-request-id" in exposed


def test_cors_with_a_list_of_origins(platform, api_key):
    limited = replace(
        platform,
        settings=platform.settings.model_copy(update={"allowed_origins": ("https://app.example",)}),
    )
    client = make_client(limited, authorization=f"Bearer {api_key}")
    ok = client.get("/v1/models", headers={"origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["vary"] == "Origin"
    other = client.get("/v1/models", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/v1/models",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 403


@pytest.mark.parametrize("path", ["/admin/keys/", "/v1/models/", "/api/llm/models/", "/health/"])
def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_host_header(admin_platform, api_key, path):
    """Issue 12 (e): ``/admin/keys/`` with ``Host: evil.example`` redirected to
    ``http://evil.example/admin/keys``."""
    token = ADMIN if path.startswith("/admin") else api_key
    client = make_client(admin_platform, authorization=f"Bearer {token}")
    response = client.get(path, follow_redirects=False, headers={"host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers


def test_a_static_folder_redirect_is_relative(platform, tmp_path):
    from llm_api.platform.local.static_site import install

    (tmp_path / "index.html").write_text("<p>home</p>")
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "index.html").write_text("<p>guide</p>")
    app = create_app(fixed_platform(platform))
    install(app, tmp_path)
    client = TestClient(app)
    response = client.get("/guide?x=1", follow_redirects=False, headers={"host": "evil.example"})
    assert response.status_code == 307
    assert response.headers["location"] == "/guide/?x=1"
    assert client.get("/guide/").text == "<p>guide</p>"


def test_parallel_model_calls_of_one_request_are_admitted_once():
    """A long transcript's parts call the model at the same time: one decision."""
    from llm_api.http.auth import Admission
    from llm_api.platform.local.limiter import InProcessLimiter

    class SlowLimiter(InProcessLimiter):
        hits = 0

        async def hit(self, key_id, limit, *, now=None):
            self.hits += 1
            await asyncio.sleep(0)  # the others ask meanwhile
            return await super().hit(key_id, limit, now=now)

    async def run():
        limiter = SlowLimiter()
        admission = Admission(limiter, "key", 5)
        decisions = await asyncio.gather(*(admission.decide() for _ in range(4)))
        return limiter.hits, decisions

    hits, decisions = asyncio.run(run())
    assert hits == 1
    assert all(d is decisions[0] and d.admitted and d.remaining == 4 for d in decisions)
