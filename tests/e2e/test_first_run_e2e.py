"""The first start as a newcomer sees it: the real `llm-api serve` ends its start-up output
with the playground URL, the development key and a curl line that works as printed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from tests.e2e.server import create_key, serving

ACCESS_LOG = re.compile(r'^INFO: +[\d.:]+ - "GET /health HTTP/1\.1" 200 OK$')


def _row(lines: list[str], name: str) -> str:
    """The value of a banner row, e.g. ``  Try it      curl ...``."""
    return next(line.split(name, 1)[1].strip() for line in lines if line.startswith(f"  {name} "))


def _send_curl_line(line: str, key: str) -> httpx.Response:
    """The printed curl line, read as the shell would (shlex) and sent with httpx."""
    argv = [arg.replace("$KEY", key) for arg in shlex.split(line)]
    assert argv[:2] == ["curl", "-s"], argv
    url = next(arg for arg in argv if arg.startswith("http://"))
    headers = dict(argv[i + 1].split(": ", 1) for i, arg in enumerate(argv) if arg == "-H")
    body = argv[argv.index("-d") + 1]
    return httpx.post(url, headers=headers, content=body, timeout=120)


def test_the_first_start_ends_with_the_url_the_dev_key_and_a_curl_line_that_works() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="llm-api-first-run-") as state,
        serving(["--backend", "embedded", "--state-dir", state]) as (url, log_path),
    ):
        lines = log_path.read_text().splitlines()
        head = next(i for i, line in enumerate(lines) if line.startswith("llm-api is ready on "))
        assert any("embedded model" in line and "loaded" in line for line in lines[:head])
        assert any("Application startup complete" in line for line in lines[:head])
        banner_end = next(i for i in range(head, len(lines)) if "Ctrl+C stops" in lines[i])
        # the banner is the last start-up output: after it only the health checks' access log
        assert all(ACCESS_LOG.match(line) for line in lines[banner_end + 1 :]), lines[banner_end:]
        banner = lines[head : banner_end + 1]

        assert _row(banner, "Playground") == f"{url}/"
        page = httpx.get(f"{url}/", timeout=30)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

        key = _row(banner, "Dev key")
        assert key.startswith("llmk_")
        curl = _row(banner, "Try it")
        assert curl.startswith(f"curl -s {url}/") and key in curl
        answer = _send_curl_line(curl, key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["text"].strip()
        if shutil.which("curl"):  # and as printed, through a real shell
            shown = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=120)
            assert shown.returncode == 0 and '"text":' in shown.stdout, shown


def test_a_later_start_says_how_to_make_a_key_and_its_curl_line_uses_dollar_key() -> None:
    with tempfile.TemporaryDirectory(prefix="llm-api-later-run-") as state:
        key = create_key(Path(state))  # not the first start: no dev key is made or shown
        with serving(["--backend", "embedded", "--state-dir", state]) as (url, log_path):
            log = log_path.read_text()
            banner = log[log.index("llm-api is ready on ") :].splitlines()
            assert not any(line.startswith("  Dev key ") for line in banner)
            assert "keys create --name me --state-dir" in log
            curl = _row(banner, "Try it")
            assert curl.startswith(f"curl -s {url}/") and '"authorization: Bearer $KEY"' in curl
            answer = _send_curl_line(curl, key)
            assert answer.status_code == 200, answer.text
