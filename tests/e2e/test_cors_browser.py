"""CORS in a real browser: a page from another origin calls the API with fetch.

Two small page servers on loopback (other ports, so other origins) serve the same page;
the API allows exactly one of them (``ALLOWED_ORIGINS``). Headless Chromium enforces
CORS itself: preflight, exposed headers, and refusal of an origin that is not allowed.
The API runs the `openai` backend in front of the fast fake upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import screenshot_path
from tests.e2e.server import Server, running_server
from tests.support.fake_upstreams import openai_upstream

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: what a frontend does: fetch with a bearer key, read the stream, read exposed headers
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>another origin</title></head>
<body><h1>A page on another origin</h1><pre id="out">not run yet</pre>
<script>
async function streamWithKey(api, key) {
  const response = await fetch(`${api}/api/llm/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "hello", stream: true, max_tokens: 16 }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let raw = "", reads = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    reads += 1;
    raw += decoder.decode(value, { stream: true });
  }
  const events = raw.split("\\n\\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
  const text = events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e).response).join("");
  return {
    status: response.status,
    reads,
    text,
    last: events[events.length - 1],
    remaining: response.headers.get("x-ratelimit-remaining-requests"),
    limit: response.headers.get("x-ratelimit-limit-requests"),
    requestId: response.headers.get("x-request-id"),
    backend: response.headers.get("x-llm-backend"),
  };
}

async function withoutKey(api) {
  const response = await fetch(`${api}/api/llm/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "hello" }),
  });
  return { status: response.status, body: await response.json() };
}

async function run(api, key) {
  const result = { origin: location.origin };
  try {
    result.stream = await streamWithKey(api, key);
    result.noKey = await withoutKey(api);
  } catch (error) {
    result.error = `${error.name}: ${error.message}`;
  }
  document.getElementById("out").textContent = JSON.stringify(result, null, 2);
  return result;
}
</script></body></html>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def page_origin() -> Iterator[str]:
    """Serve the page from a new loopback port: a new origin."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    """(allowed, refused): two origins serving the page."""
    with page_origin() as allowed, page_origin() as refused:
        yield allowed, refused


@pytest.fixture(scope="module")
def gateway(origins: tuple[str, str]) -> Iterator[Server]:
    allowed, _ = origins
    with openai_upstream() as fake:
        # pieces 0.1 s apart: the page reads the stream as it comes even when a busy
        # machine starts the read late (at 10 ms apart it could find it all buffered)
        fake.state.piece_delay = 0.1
        env = {"OPENAI_BASE_URL": fake.base_url, "ALLOWED_ORIGINS": allowed}
        with running_server(["--backend", "openai"], env) as server:
            yield server


def run_page(browser: Browser, origin: str, gateway: Server, shot: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        page.goto(f"{origin}/")
        result = page.evaluate("([api, key]) => run(api, key)", [gateway.url, gateway.key])
        page.screenshot(path=screenshot_path(shot))
        return result
    finally:
        context.close()


def test_a_page_on_an_allowed_origin_streams_with_a_key_and_sees_401_without(
    browser: Browser, origins: tuple[str, str], gateway: Server
) -> None:
    allowed, _ = origins
    assert allowed != gateway.url  # another port: another origin, so CORS applies
    result = run_page(browser, allowed, gateway, "cors-allowed-origin")
    assert "error" not in result, result
    stream = result["stream"]
    assert stream["status"] == 200
    assert stream["text"] == "Hello from the fake upstream."
    assert stream["reads"] >= 2  # the body arrived in pieces, read as a stream
    assert stream["last"] == "[DONE]"
    # exposed to scripts by Access-Control-Expose-Headers
    assert stream["limit"] == "100" and int(stream["remaining"]) < 100
    assert stream["requestId"].startswith("req_")
    assert stream["backend"].startswith("openai:")
    # a 401 carries CORS headers too, so the page can read why
    no_key = result["noKey"]
    assert no_key["status"] == 401
    assert "Missing or invalid API key" in no_key["body"]["error"]


def test_a_page_on_an_origin_not_allowed_cannot_read_the_api(
    browser: Browser, origins: tuple[str, str], gateway: Server
) -> None:
    _, refused = origins
    result = run_page(browser, refused, gateway, "cors-refused-origin")
    assert result["error"] == "TypeError: Failed to fetch"  # the browser blocked it
    assert "stream" not in result
