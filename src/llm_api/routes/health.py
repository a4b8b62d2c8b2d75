from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from llm_api.http.dependencies import PlatformDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    backend: str


@router.get("/health")
async def health(platform: PlatformDep) -> Health:
    """Liveness: answers without calling the model."""
    return Health(status="ok", backend=platform.ai.engine)
