"""OpenAI's Responses API (`/v1/responses`): create, retrieve and delete, per API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from llm_api.errors import OPENAI
from llm_api.http.dependencies import ApiKeyDep, BackendHeaders, CallerDep, PlatformDep
from llm_api.http.openapi import GENERATION, PROTECTED, RESPONSE_STREAM_DOC, error_responses
from llm_api.http.streaming import answer
from llm_api.schemas.responses import DeletedResponse, ResponseCreateRequest, ResponseObject
from llm_api.services import responses
from llm_api.services.responses import Responses

router = APIRouter(
    prefix=OPENAI.prefix, tags=["openai"], responses=error_responses(OPENAI, *PROTECTED)
)


async def stored_responses(platform: PlatformDep, key: ApiKeyDep) -> Responses:
    """The platform's stored responses, seen through the caller's key."""
    return Responses(platform.responses, key.key_id)


ResponsesDep = Annotated[Responses, Depends(stored_responses)]


@router.post(
    "/responses",
    response_model=ResponseObject,
    responses={**RESPONSE_STREAM_DOC, **error_responses(OPENAI, *GENERATION, 404)},
)
async def create_response(
    body: ResponseCreateRequest,
    caller: CallerDep,
    stored: ResponsesDep,
    headers: BackendHeaders,
) -> Response:
    """Create a response (streamed as typed events with `stream: true`); kept for `GET` and
    `previous_response_id` unless `store` is false."""
    return answer(await responses.create(caller, stored, body), headers)


@router.get(
    "/responses/{response_id}",
    response_model=ResponseObject,
    responses=error_responses(OPENAI, 404),
)
async def retrieve_response(response_id: str, stored: ResponsesDep) -> Response:
    """A stored response of this key."""
    return answer(await responses.retrieve(stored, response_id), {})


@router.delete("/responses/{response_id}", responses=error_responses(OPENAI, 404))
async def delete_response(response_id: str, stored: ResponsesDep) -> DeletedResponse:
    """Delete a stored response of this key."""
    return await responses.delete(stored, response_id)
