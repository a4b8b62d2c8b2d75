"""FastAPI dependencies: how a handler gets the platform and its parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llm_api.platform.base import Platform


def get_platform(request: Request) -> Platform:
    return request.app.state.platform_provider(request.scope)


PlatformDep = Annotated[Platform, Depends(get_platform)]
