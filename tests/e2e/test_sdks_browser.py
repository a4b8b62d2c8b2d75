"""The official SDKs in a real browser page, calling `/v1` on another origin (issue 15, item 5).

The `openai` npm package (``dangerouslyAllowBrowser``) sends ``x-stainless-*`` headers, so
Chromium asks a preflight for them; the server used to refuse it (403). The AI SDK's
``user-agent`` suffix is dropped by Chromium (Firefox asks for it: tests/http covers that),
so its page adds a custom header through the provider's ``headers``, as apps do. The pages
are bundled at test time with esbuild from node_modules into a temporary folder, served
from another loopback port (another origin) and driven in headless Chromium against the
session's server and embedded model.
"""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import ROOT, screenshot_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Request

ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
PAGES = Path(__file__).parent / "pages"
ENTRIES = {"openai_sdk": ("openai",), "ai_sdk": ("ai", "@ai-sdk/openai-compatible")}
HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name} on another origin</title>
<script type="module" src="/{name}.js"></script></head>
<body><h1>{name}, bundled, on another origin</h1></body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def bundle(folder: Path) -> None:
    """``esbuild --bundle --format=esm`` each page's entry, next to its HTML."""
    for name, packages in ENTRIES.items():
        missing = [p for p in packages if not (ROOT / "node_modules" / p).is_dir()]
        if not ESBUILD.is_file() or missing:
            pytest.skip(f"needs `npm ci` (esbuild and {', '.join(packages)})")
        subprocess.run(
            [str(ESBUILD), "--bundle", "--format=esm", "--log-level=warning",
             str(PAGES / f"{name}.mjs"), f"--outfile={folder / f'{name}.js'}"],
            check=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        (folder / f"{name}.html").write_text(HTML.format(name=name))


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("sdk-pages")
    bundle(folder)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def run_page(
    browser: Browser, origin: str, name: str, base_url: str, key: str
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Run the page's SDK calls; their result and the headers of each chat request."""
    context = browser.new_context(viewport={"width": 800, "height": 600})
    requests: list[Request] = []
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.on("request", lambda r: requests.append(r) if "/v1/chat" in r.url else None)
        page.goto(f"{origin}/{name}.html")
        result = page.evaluate("([api, key]) => window.runSdk(api, key)", [f"{base_url}/v1", key])
        page.screenshot(path=screenshot_path(f"sdk-browser-{name}"))
        return result, [request.all_headers() for request in requests]
    finally:
        context.close()


def test_the_openai_npm_sdk_in_a_page_on_another_origin_creates_and_streams(
    browser: Browser, page_origin: str, base_url: str, api_key: str
) -> None:
    assert page_origin != base_url  # another port: another origin, so CORS applies
    result, sent = run_page(browser, page_origin, "openai_sdk", base_url, api_key)
    assert "error" not in result, result
    create = result["create"]
    assert create["content"] and create["finish"] in ("stop", "length")
    assert create["requestId"].startswith("req_")  # an exposed header, read by the SDK
    assert int(create["remaining"]) >= 0
    assert result["stream"]["text"] == create["content"]  # temperature 0
    assert result["stream"]["chunks"] > 3
    assert result["unauthorized"] == {
        "class": "AuthenticationError", "status": 401,
        "requestId": result["unauthorized"]["requestId"],
    }  # fmt: skip
    assert result["unauthorized"]["requestId"].startswith("req_")
    # the non-safelisted headers that needed the preflight really went out
    assert sent and all("x-stainless-lang" in headers for headers in sent)


def test_the_ai_sdk_in_a_page_on_another_origin_generates_and_streams(
    browser: Browser, page_origin: str, base_url: str, api_key: str
) -> None:
    result, sent = run_page(browser, page_origin, "ai_sdk", base_url, api_key)
    assert "error" not in result, result
    generated = result["generate"]
    assert generated["text"] and generated["finish"] in ("stop", "length")
    assert generated["requestId"].startswith("req_")
    assert result["stream"]["text"] == generated["text"]  # temperature 0
    assert result["stream"]["parts"] > 3
    assert 0 < result["stream"]["outputTokens"] <= 12
    assert len(sent) == 2 and all(h["x-app-name"] == "sdk-page" for h in sent)
