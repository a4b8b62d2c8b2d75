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

from os import PathLike
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send


def _checkout_public_dir() -> Path | None:
    """``public/`` beside the checkout's ``wrangler.toml`` (the folder it uploads as
    assets), found by walking up from this file; None for an installed package."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "wrangler.toml").is_file():
            return folder / "public"
    return None


#: the folder `wrangler.toml` uploads as assets, in a source checkout
CHECKOUT_PUBLIC_DIR = _checkout_public_dir()


class StaticFallback:
    """The router's "no route matched" app: a file from ``directory``, else ``not_found``."""

    def __init__(self, directory: str | PathLike[str], not_found: ASGIApp) -> None:
        self.files = StaticFiles(directory=directory, html=True)
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            # A missing file raises HTTPException(404): the app renders it like any 404.
            await self.files(scope, receive, send)
        else:
            await self.not_found(scope, receive, send)


def default_static_dir() -> Path | None:
    """``public/`` when running from a source checkout (``make run``), else None."""
    folder = CHECKOUT_PUBLIC_DIR
    return folder if folder is not None and (folder / "index.html").is_file() else None
