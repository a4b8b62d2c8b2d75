"""Key management (`/admin/keys`), protected by the ADMIN_TOKEN secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from llm_api.binding.protocol import Platform
from llm_api.errors import NATIVE, NotFound
from llm_api.http.auth import ADMIN_PREFIX, admin_refusal, bearer_token, is_admin_token
from llm_api.http.dependencies import PlatformDep
from llm_api.http.openapi import JSON_BODY, error_responses
from llm_api.keys import is_key_id
from llm_api.schemas.admin import CreatedKey, CreateKeyRequest, KeyList, KeyUsage, RevokedKey
from llm_api.services.keys import create_key, key_usage


async def require_admin(request: Request, platform: PlatformDep) -> Platform:
    # SecurityMiddleware has checked the token before the body was read; checked again
    # here so that no admin route depends on the middleware being installed.
    if not is_admin_token(bearer_token(request.scope), platform.settings):
        raise admin_refusal(platform.settings)
    return platform


AdminDep = Annotated[Platform, Depends(require_admin)]
# Not behind an API key (so no 429), but behind the admin token; the key store can be down.
router = APIRouter(
    prefix=f"{ADMIN_PREFIX}/keys", tags=["admin"], responses=error_responses(NATIVE, 401, 500, 503)
)


@router.post("", status_code=201, responses=error_responses(NATIVE, *JSON_BODY))
async def create(body: CreateKeyRequest, platform: AdminDep) -> CreatedKey:
    """Create a key; the key itself is in this answer only, never again."""
    return await create_key(platform.keys, body.name, rpm=body.rpm, models=body.allowed_models)


@router.get("")
async def list_keys(platform: AdminDep) -> KeyList:
    """Every key's record (never the key or its hash)."""
    records = sorted(await platform.keys.list(), key=lambda record: record.created_at)
    return KeyList(keys=[record.public_dict() for record in records])


@router.delete("/{key_id}", responses=error_responses(NATIVE, 404))
async def revoke(key_id: str, platform: AdminDep) -> RevokedKey:
    """Revoke a key: its requests are refused from now on."""
    if not is_key_id(key_id) or not await platform.keys.revoke(key_id):
        raise NotFound(f"No key with id '{key_id}'")
    return RevokedKey(key_id=key_id, revoked=True)


@router.get("/{key_id}/usage", responses=error_responses(NATIVE, 400, 404))
async def usage(
    key_id: str, platform: AdminDep, days: Annotated[int, Query(ge=1, le=90)] = 30
) -> KeyUsage:
    """Requests, tokens and estimated cost per day for one key."""
    record = await platform.keys.get(key_id) if is_key_id(key_id) else None
    if record is None:
        raise NotFound(f"No key with id '{key_id}'")
    return await key_usage(platform.usage, record, days=days)
