"""Headless Chromium for browser tests: Debian's ``chromium``, driven by Playwright.

Playwright's own browser download is never used (``playwright install`` needs the
network): the PyPI package drives the system Chromium through ``executable_path``.
Without Chromium the browser tests skip, saying why; `.ci/run` installs it and sets
``LLM_API_REQUIRE_BROWSER=1``, which turns that skip into a failure, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
#: screenshots of browser tests; git-ignored, kept by CI as test artifacts
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ENV = "LLM_API_CHROMIUM"
REQUIRE_ENV = "LLM_API_REQUIRE_BROWSER"
SKIP_REASON = (
    "BROWSER TESTS SKIPPED: no Chromium at {path} "
    "(install it with `apt-get install chromium`, as .ci/run does, or set LLM_API_CHROMIUM)"
)
LAUNCH_ARGS = [
    "--no-sandbox",  # CI containers run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    return shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """A headless Chromium with a fresh profile, or a pytest skip saying why there is none."""
    path = chromium_path()
    if not Path(path).is_file():
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but there is no Chromium at {path}")
        pytest.skip(SKIP_REASON.format(path=path))
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs `pip install playwright`")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
