"""The OpenAI-compatible API (`/v1`): the official SDKs work against it unchanged."""

from __future__ import annotations

from fastapi import APIRouter, Response

from llm_api.errors import OPENAI
from llm_api.http.dependencies import BackendHeaders, CallerDep, CatalogDep
from llm_api.http.openapi import COMPLETION_STREAM_DOC, GENERATION, PROTECTED, error_responses
from llm_api.http.streaming import answer
from llm_api.schemas.openai import ChatCompletion, ChatCompletionRequest, ModelList, ModelObject
from llm_api.services import openai

router = APIRouter(
    prefix=OPENAI.prefix, tags=["openai"], responses=error_responses(OPENAI, *PROTECTED)
)


@router.get("/models", response_model_exclude_none=True)
async def list_models(catalog: CatalogDep) -> ModelList:
    """The catalog in OpenAI's list shape."""
    return openai.model_list(catalog)


@router.get(
    "/models/{model_id:path}",
    responses=error_responses(OPENAI, 404),
    response_model_exclude_none=True,
)
async def retrieve_model(model_id: str, catalog: CatalogDep) -> ModelObject:
    """One model, by short or full id."""
    return openai.model(catalog, model_id)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**COMPLETION_STREAM_DOC, **error_responses(OPENAI, *GENERATION, 404)},
)
async def chat_completions(
    body: ChatCompletionRequest, caller: CallerDep, headers: BackendHeaders
) -> Response:
    """Create a chat completion (streamed with `stream: true`)."""
    return answer(await openai.chat_completions(caller, body), headers)
