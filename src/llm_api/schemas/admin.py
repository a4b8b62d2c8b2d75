"""Key management and usage shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from llm_api.schemas.common import STRICT_REQUEST


class CreateKeyRequest(BaseModel):
    model_config = STRICT_REQUEST

    name: str = Field(min_length=1, max_length=100, description="Who or what the key is for")
    rpm: int | None = Field(default=None, ge=1, le=100_000, description="Requests per minute")
    allowed_models: list[str] | None = Field(
        default=None, min_length=1, description="Catalog ids this key may use (default: all)"
    )


class KeyInfo(BaseModel):
    key_id: str
    name: str
    created_at: str
    rpm: int | None
    allowed_models: list[str] | None
    revoked: bool


class CreatedKey(KeyInfo):
    key: str = Field(description="The API key: shown once, store it now")


class RevokedKey(BaseModel):
    key_id: str
    revoked: bool


class KeyList(BaseModel):
    keys: list[KeyInfo]


class UsageDay(BaseModel):
    day: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    estimated_requests: int = Field(
        0, description="requests whose tokens are estimated: the backend reported none or nonsense"
    )


class KeyUsage(BaseModel):
    key_id: str
    name: str
    rpm: int | None
    days: list[UsageDay]
    totals: dict[str, Any]
