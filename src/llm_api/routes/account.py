"""What a key's owner can read about their own key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from llm_api.errors import NATIVE
from llm_api.http.dependencies import ApiKeyDep, PlatformDep
from llm_api.http.openapi import PROTECTED, error_responses
from llm_api.schemas.admin import KeyUsage
from llm_api.services.keys import key_usage

router = APIRouter(
    prefix=NATIVE.prefix, tags=["native"], responses=error_responses(NATIVE, *PROTECTED)
)


@router.get("/usage", responses=error_responses(NATIVE, 400))
async def usage(
    key: ApiKeyDep, platform: PlatformDep, days: Annotated[int, Query(ge=1, le=90)] = 30
) -> KeyUsage:
    """This key's requests, tokens and estimated cost per day (UTC), newest first."""
    return await key_usage(platform.usage, key, days=days)
