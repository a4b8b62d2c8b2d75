"""FastAPI dependencies: how a handler gets the platform and the caller's key."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request

from llm_api.accounting import AccountedAI
from llm_api.errors import Unauthorized
from llm_api.keys import KeyRecord
from llm_api.platform.base import Platform


def get_platform(request: Request) -> Platform:
    """The request's platform; for an authenticated caller, the AI binding checks the
    key's allowed models and records its usage."""
    platform: Platform = request.app.state.platform_provider(request.scope)
    key = request.scope.get("state", {}).get("api_key")
    if key is None:
        return platform
    return replace(platform, ai=AccountedAI(platform.ai, key, platform.usage))


def get_api_key(request: Request) -> KeyRecord:
    key = request.scope.get("state", {}).get("api_key")
    if key is None:  # only reachable if a route outside the protected prefixes asks
        raise Unauthorized("an API key is required")
    return key


PlatformDep = Annotated[Platform, Depends(get_platform)]
ApiKeyDep = Annotated[KeyRecord, Depends(get_api_key)]
