"""The browser playground (``public/``) on the local host, with Workers' precedence.

On Workers, Cloudflare serves ``public/`` as static assets and runs the Worker for
anything that is no asset (``[assets]`` in wrangler.toml). Here the precedence is the
mirror image with the same outcome, since no file shadows an API path: routes first,
and a GET or HEAD that no route matched is looked up in the folder (``/`` is
``index.html``). Unknown API paths stay JSON 404s, and wrong methods stay 405s, which
a catch-all ``Mount("/")`` would turn into file lookups.

Only the local host imports this module; the Worker never has a folder to serve.
"""

from __future__ import annotations

import tomllib
from os import PathLike
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from llm_api.http.request_id import RelativeRedirectMiddleware


def install(app: FastAPI, directory: str | PathLike[str]) -> None:
    """Serve ``directory`` for the GETs and HEADs that no route of ``app`` answers (before
    the app starts). Only the local host calls this: app.py knows no folder."""
    app.router.default = StaticFallback(directory, not_found=app.router.default)


class StaticFallback:
    """The router's "no route matched" app: a file from ``directory``, else ``not_found``."""

    def __init__(self, directory: str | PathLike[str], not_found: ASGIApp) -> None:
        # a folder's /dir -> /dir/ is the one redirect here: sent as a path, never a URL
        # built from the client's Host header
        self.files = RelativeRedirectMiddleware(StaticFiles(directory=directory, html=True))
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            # A missing file raises HTTPException(404): the app renders it like any 404.
            await self.files(scope, receive, send)
        else:
            await self.not_found(scope, receive, send)


def default_static_dir(start: Path | None = None) -> Path | None:
    """What ``wrangler.toml`` uploads as assets (``[assets].directory``), found beside the
    first ``wrangler.toml`` above ``start`` (this file): the playground when running from
    a source checkout (``make run``). None where there is none or it holds no
    ``index.html``, as for an installed package."""
    for folder in (start or Path(__file__)).resolve().parents:
        config = folder / "wrangler.toml"
        if config.is_file():
            assets = tomllib.loads(config.read_text()).get("assets", {})
            directory = assets.get("directory")
            if not isinstance(directory, str):
                return None
            public = (folder / directory).resolve()
            return public if (public / "index.html").is_file() else None
    return None
