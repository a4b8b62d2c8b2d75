"""The REST v1 API (`/api/v1/llm`): chat and prompt optimisation, seed "LLM APIs"."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from llm_api.catalog import resolve_model
from llm_api.errors import V1
from llm_api.http.dependencies import BackendHeaders, CallerDep, PlatformDep
from llm_api.http.openapi import GENERATION, PROTECTED, error_responses
from llm_api.http.streaming import sse_response
from llm_api.routes.openai import STREAM_DOC
from llm_api.schemas.openai import ChatCompletion
from llm_api.schemas.v1 import OptimizePromptRequest, OptimizePromptResponse, V1ChatRequest
from llm_api.services.generation import GenerationRequest, complete, open_stream
from llm_api.services.openai import ChunkEncoder, completion_object
from llm_api.services.prompts import optimize_prompt

#: every v1 route calls the model; an unknown model is a 404
ERRORS = error_responses(V1, *PROTECTED, *GENERATION, 404)
router = APIRouter(prefix=V1.prefix, tags=["v1"], responses=ERRORS)


@router.post("/chat", response_model=ChatCompletion, responses=STREAM_DOC)
async def chat(
    body: V1ChatRequest, platform: PlatformDep, caller: CallerDep, headers: BackendHeaders
) -> Response:
    """Chat completion in the `chat.completion` shape; `stream: true` streams OpenAI chunks."""
    model = resolve_model(body.model or platform.settings.default_model)
    sampling: dict[str, object] = {"temperature": body.temperature}
    if body.max_tokens is not None:
        sampling["max_tokens"] = body.max_tokens
    request = GenerationRequest(
        model=model,
        messages=[message.model_dump() for message in body.messages],
        sampling=sampling,
    )
    if body.stream:
        encoder = ChunkEncoder(model.id, include_usage=True, family=V1)
        items = await open_stream(caller, request)
        return sse_response(items, encoder.encode, encoder.encode_error, headers)
    completion = await complete(caller, request)
    return JSONResponse(completion_object(completion, model.id), headers=headers)


@router.post("/optimize-prompt")
async def optimize(
    body: OptimizePromptRequest, platform: PlatformDep, caller: CallerDep, _: BackendHeaders
) -> OptimizePromptResponse:
    """Rewrite a prompt for image or video generation, with composition/lighting/lens or
    motion/camera/duration cues."""
    model = resolve_model(platform.settings.fast_model)
    return await optimize_prompt(caller, model, body)
