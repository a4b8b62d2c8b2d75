"""FastAPI dependencies: how a handler gets the platform, its settings, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from llm_api.binding.accounted import UNMETERED, Account, KeyAccount
from llm_api.binding.protocol import AIBinding, Platform, features_of
from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.binding.run_options import SESSION_HEADER, session_affinity
from llm_api.catalog import Catalog
from llm_api.errors import Unauthorized
from llm_api.http.auth import AdmittedAI
from llm_api.keys import KeyRecord
from llm_api.services.generation import Caller
from llm_api.services.serving import ReplyHeaders
from llm_api.settings import Settings


async def get_platform(request: Request) -> Platform:
    """The request's platform, as the host built it.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in a
    worker thread, which costs more CPU than the whole rest of a request (bench/cpu.py).
    """
    platform: Platform = request.app.state.platform_provider(request.scope)
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_settings(platform: PlatformDep) -> Settings:
    return platform.settings


async def get_catalog(platform: PlatformDep) -> Catalog:
    """The host's catalog, its live list reloaded first when due (``catalog.source``)."""
    return await platform.catalog.current()


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


async def get_caller(request: Request, response: Response) -> Caller:
    """Who generates for this request: the platform's binding with timeouts and retries,
    counted against the key's rate limit (once, before the first model call), the key's
    account, which checks its allowed models and records its usage, and the host's
    catalog; the engine's headers go to ``response`` (FastAPI merges them into answers it
    serialises) and to ``BackendHeaders`` (for answers routes build); the client's
    ``x-session-affinity`` header names its conversation (prompt caching).

    The platform and catalog are found here, not as sub-dependencies: FastAPI solves a
    sub-dependency's whole tree again wherever it is named before it looks in its cache,
    and under Pyodide each solve costs CPU on every request (bench/README.md §4)."""
    platform = await get_platform(request)
    catalog = await get_catalog(platform)
    ai: AIBinding = ResilientAI(platform.ai, CallPolicy.of(platform.settings))
    state = request.scope.get("state", {})
    admission = state.get("admission")
    if admission is not None:  # counted against the key's limit at the first model call
        ai = AdmittedAI(ai, admission)
    key = state.get("api_key")
    account: Account = UNMETERED if key is None else KeyAccount(key, platform.usage, catalog)
    return Caller(
        ai,
        account,
        catalog,
        ReplyHeaders(sink=response.headers),
        session_affinity(request.headers.get(SESSION_HEADER)),
        features_of(platform.ai),
    )


async def get_api_key(request: Request) -> KeyRecord:
    key = request.scope.get("state", {}).get("api_key")
    if key is None:  # only reachable if a route outside the protected prefixes asks
        raise Unauthorized("an API key is required")
    return key


SettingsDep = Annotated[Settings, Depends(get_settings)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ApiKeyDep = Annotated[KeyRecord, Depends(get_api_key)]


async def backend_headers(caller: CallerDep) -> dict[str, str]:
    """``x-llm-backend``, naming the engine that answers, and what the engine adds
    (``Deprecation``, ``Sunset``). The same dict as the caller's, so headers set while the
    route runs are in it when the route builds its own answer (JSON bodies, streams).
    ``caller.ai.engine`` is the platform's: every wrapper passes its inner one's on."""
    caller.reply.set("x-llm-backend", caller.ai.engine)
    return caller.reply.values


BackendHeaders = Annotated[dict[str, str], Depends(backend_headers)]
