"""The native API: ``/api/llm`` as the seed "LLM Text Generation API" documents it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from llm_api.errors import NATIVE
from llm_api.http.dependencies import BackendHeaders, CallerDep, CatalogDep, SettingsDep
from llm_api.http.openapi import GENERATION, NATIVE_STREAM_DOC, PROTECTED, error_responses
from llm_api.http.streaming import answer
from llm_api.schemas.native import (
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    GenerateResponse,
    ModelsResponse,
)
from llm_api.services import native

router = APIRouter(
    prefix=NATIVE.prefix, tags=["native"], responses=error_responses(NATIVE, *PROTECTED)
)
GENERATION_DOC = {**NATIVE_STREAM_DOC, **error_responses(NATIVE, *GENERATION)}


@router.get("/models", response_model_exclude_none=True)
async def list_models(catalog: CatalogDep) -> ModelsResponse:
    """The catalog: context windows, tool support and prices per million tokens; a retired
    model has `deprecated`, `retiredOn` and `replacement`."""
    return native.model_list(catalog)


@router.post("/generate", response_model=GenerateResponse, responses=GENERATION_DOC)
async def generate(
    body: GenerateRequest, caller: CallerDep, settings: SettingsDep, headers: BackendHeaders
) -> GenerateResponse | Response:
    """Generate text from a prompt."""
    return answer(await native.generate(caller, settings, body), headers)


@router.post(
    "/chat/completions",
    response_model=ChatResponse,
    responses=GENERATION_DOC,
    response_model_exclude_none=True,
)
async def chat_completions(
    body: ChatRequest, caller: CallerDep, settings: SettingsDep, headers: BackendHeaders
) -> ChatResponse | Response:
    """Chat with conversation history, JSON mode and function calling."""
    return answer(await native.chat(caller, settings, body), headers)
