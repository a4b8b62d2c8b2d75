"""The playground folder: served at `/` by the local host as Workers serves `[assets]`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from llm_api.cli import build_parser, static_dir_of
from llm_api.platform.local.static_site import default_static_dir, install
from llm_api.settings import ServeSettings, load
from tests.support.paths import ROOT

PUBLIC = ROOT / "public"


@pytest.fixture
def site(platform: Platform, api_key: str) -> Iterator[TestClient]:
    app = create_app(fixed_platform(platform))
    install(app, PUBLIC)
    headers = {"authorization": f"Bearer {api_key}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        yield client


def test_the_playground_is_served_at_the_root(site: TestClient) -> None:
    page = site.get("/", headers={"authorization": ""})  # no key needed for the page
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>llm-api playground</title>" in page.text
    assert page.headers["x-request-id"].startswith("req_")
    script = site.get("/app.js", headers={"authorization": ""})
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert site.head("/style.css").status_code == 200


def test_the_api_answers_as_before_around_the_folder(site: TestClient) -> None:
    assert site.get("/health").json()["status"] == "ok"
    assert site.get("/openapi.json").status_code == 200
    assert site.get("/docs").status_code == 200
    assert site.get("/api/llm/models").status_code == 200
    # unknown paths stay JSON 404s in their family's envelope, wrong methods stay 405s
    assert site.get("/nope").json() == {"error": "No such route: GET /nope"}
    assert site.post("/app.js").status_code == 404
    assert site.get("/api/llm/nope").status_code == 404
    wrong_method = site.get("/api/llm/generate")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method not allowed: GET /api/llm/generate"}
    assert site.get("/v1/nope").json()["error"]["type"] == "invalid_request_error"


def test_without_a_folder_the_root_is_a_404(client: TestClient) -> None:
    assert client.get("/").status_code == 404
    assert client.get("/app.js").status_code == 404


def test_the_page_needs_no_build_and_calls_routes_that_exist(client: TestClient) -> None:
    html = (PUBLIC / "index.html").read_text()
    for asset in re.findall(r'(?:src|href)="([\w./-]+\.(?:js|css))"', html):
        assert (PUBLIC / asset).is_file(), asset
    script = (PUBLIC / "app.js").read_text()
    called = set(re.findall(r'"(/api/[\w/-]+)"', script))
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/api/llm/models", "/api/llm/chat/completions", "/api/v1/llm/optimize-prompt"} <= called
    assert called <= paths, f"the page calls routes the API lacks: {called - paths}"


def test_the_same_folder_is_served_on_workers_and_locally() -> None:
    assets = tomllib.loads((ROOT / "wrangler.toml").read_text())["assets"]
    assert (ROOT / assets["directory"]).resolve() == PUBLIC == default_static_dir()
    # anything that is no file reaches the Worker; the API never looks for one
    assert assets["not_found_handling"] == "none"
    assert assets["run_worker_first"] == ["/api/*", "/v1/*", "/admin/*"]
    assert static_dir_of(ServeSettings()) == PUBLIC  # what `llm-api serve` serves


def test_an_empty_static_dir_serves_none_and_a_flag_beats_the_variable(tmp_path: Path) -> None:
    def static_dir(argv: list[str], env: dict[str, str]) -> Path | None:
        flags = vars(build_parser().parse_args(["serve", *argv]))
        return static_dir_of(load(ServeSettings, env, flags))

    assert static_dir([], {"LLM_API_STATIC_DIR": ""}) is None
    assert static_dir(["--static-dir", ""], {}) is None
    assert static_dir([], {"LLM_API_STATIC_DIR": str(tmp_path)}) == tmp_path
    assert static_dir(["--static-dir", ""], {"LLM_API_STATIC_DIR": str(tmp_path)}) is None


def test_the_default_folder_is_what_wrangler_toml_uploads(tmp_path: Path) -> None:
    module = tmp_path / "src" / "llm_api" / "platform" / "static_site.py"
    (tmp_path / "wrangler.toml").write_text('name = "x"\n[assets]\ndirectory = "./site"\n')
    assert default_static_dir(module) is None  # no such folder yet
    (tmp_path / "site").mkdir()
    assert default_static_dir(module) is None  # a folder without a page is no playground
    (tmp_path / "site" / "index.html").write_text("<p>hi</p>")
    assert default_static_dir(module) == (tmp_path / "site").resolve()
    (tmp_path / "wrangler.toml").write_text('name = "x"\n')
    assert default_static_dir(module) is None  # a Worker without [assets]
