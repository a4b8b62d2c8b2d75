"""``create_app(provider)``: the one ASGI application both hosts serve."""

from __future__ import annotations

from fastapi import FastAPI

from llm_api.binding.protocol import PlatformProvider
from llm_api.http.auth import SecurityMiddleware
from llm_api.http.body_limits import BodyLimitMiddleware
from llm_api.http.cors import CORSMiddleware
from llm_api.http.disconnect import CancelOnDisconnectMiddleware
from llm_api.http.handlers import install_error_handlers
from llm_api.http.request_id import RequestIdMiddleware
from llm_api.routes import account, admin, health, native, openai, responses, tutor, v1

DESCRIPTION = """\
Text generation for language-learning and creative apps, on Cloudflare Workers AI
or a local model. Three API families share one engine: the native API (`/api/llm`),
the REST v1 API (`/api/v1/llm`) and an OpenAI-compatible API (`/v1`).
"""


def create_app(provider: PlatformProvider) -> FastAPI:
    """Build the app; ``provider(scope)`` returns the platform for a request.

    A host adds what is its own: the local host serves the playground for GETs that no
    route answers (``platform.local.static_site.install``), as Workers serves ``[assets]``.
    """
    app = FastAPI(
        title="llm-api",
        version="0.1.0",
        description=DESCRIPTION,
        # No redirect to the path with(out) a trailing slash: its absolute URL would be
        # built from the client's Host header. Such paths are plain 404s.
        redirect_slashes=False,
        # A body without Content-Type is read as JSON (many clients send JSON without
        # saying so); BodyLimitMiddleware answers 415 for any other declared type.
        strict_content_type=False,
    )
    app.state.platform_provider = provider
    install_error_handlers(app)
    # The hottest routes first: FastAPI tries routers in order, one match test per route
    # (about a tenth of a chat completion's CPU, bench/README.md). Prefixes never overlap.
    app.include_router(openai.router)
    app.include_router(responses.router)
    app.include_router(native.router)
    app.include_router(v1.router)
    app.include_router(tutor.router)
    app.include_router(health.router)
    app.include_router(account.router)
    app.include_router(admin.router)
    # Outermost last: CORS sees every answer (401s and 429s included, so browsers can
    # read them), request ids go on everything, then keys, the admin token and rate
    # limits, from the headers alone; then the client's disconnect is watched for, once
    # the body checks (so an unauthenticated body is never read) have read the body —
    # on hosts that report a disconnect before the answer (not Workers: the SDK's adapter
    # reports it only once the response is handed over, so there the watch would cost a
    # timer, and after 50 ms a task, per request for nothing; bench/README.md §4).
    app.add_middleware(BodyLimitMiddleware, provider=provider)
    if getattr(provider, "reports_disconnects", True):
        app.add_middleware(CancelOnDisconnectMiddleware)
    app.add_middleware(SecurityMiddleware, provider=provider)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(CORSMiddleware, provider=provider)
    return app
