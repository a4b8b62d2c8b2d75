"""FastAPI dependencies: how a handler gets the platform and the caller's key."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request, Response

from llm_api.binding.accounted import AccountedAI
from llm_api.binding.protocol import AIBinding, Platform
from llm_api.binding.resilient import CallPolicy, ResilientAI
from llm_api.errors import Unauthorized
from llm_api.http.auth import AdmittedAI
from llm_api.keys import KeyRecord


async def get_platform(request: Request) -> Platform:
    """The request's platform. Its AI binding has timeouts and retries, and for an
    authenticated caller checks the key's allowed models, counts the request against the
    key's rate limit (once, before the first model call) and records its usage.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in a
    worker thread, which costs more CPU than the whole rest of a request (bench/cpu.py).
    """
    platform: Platform = request.app.state.platform_provider(request.scope)
    settings = platform.settings
    policy = CallPolicy(
        first_token_timeout_s=settings.first_token_timeout_s,
        total_timeout_s=settings.total_timeout_s,
        retries=settings.backend_retries,
    )
    ai: AIBinding = ResilientAI(platform.ai, policy)
    state = request.scope.get("state", {})
    admission = state.get("admission")
    if admission is not None:  # counted against the key's limit at the first model call
        ai = AdmittedAI(ai, admission)
    key = state.get("api_key")
    if key is not None:
        ai = AccountedAI(ai, key, platform.usage)
    return replace(platform, ai=ai)


async def get_api_key(request: Request) -> KeyRecord:
    key = request.scope.get("state", {}).get("api_key")
    if key is None:  # only reachable if a route outside the protected prefixes asks
        raise Unauthorized("an API key is required")
    return key


PlatformDep = Annotated[Platform, Depends(get_platform)]
ApiKeyDep = Annotated[KeyRecord, Depends(get_api_key)]


async def backend_headers(platform: PlatformDep, response: Response) -> dict[str, str]:
    """``x-llm-backend``, naming the engine that answers. Set here on the answer FastAPI
    builds from a returned model; returned for routes that build their own (streams)."""
    headers = {"x-llm-backend": platform.ai.engine}
    response.headers.update(headers)
    return headers


BackendHeaders = Annotated[dict[str, str], Depends(backend_headers)]
