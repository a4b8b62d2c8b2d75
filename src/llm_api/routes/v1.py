"""The REST v1 API (`/api/v1/llm`): chat and prompt optimisation, seed "LLM APIs"."""

from __future__ import annotations

from fastapi import APIRouter, Response

from llm_api.errors import V1
from llm_api.http.dependencies import BackendHeaders, CallerDep, SettingsDep
from llm_api.http.openapi import COMPLETION_STREAM_DOC, GENERATION, PROTECTED, error_responses
from llm_api.http.streaming import answer
from llm_api.schemas.openai import ChatCompletion
from llm_api.schemas.v1 import OptimizePromptRequest, OptimizePromptResponse, V1ChatRequest
from llm_api.services import v1

#: every v1 route calls the model; an unknown model is a 404
ERRORS = error_responses(V1, *PROTECTED, *GENERATION, 404)
router = APIRouter(prefix=V1.prefix, tags=["v1"], responses=ERRORS)


@router.post("/chat", response_model=ChatCompletion, responses=COMPLETION_STREAM_DOC)
async def chat(
    body: V1ChatRequest, caller: CallerDep, settings: SettingsDep, headers: BackendHeaders
) -> Response:
    """Chat completion in the `chat.completion` shape; `stream: true` streams OpenAI chunks."""
    return answer(await v1.chat(caller, settings, body), headers)


@router.post("/optimize-prompt")
async def optimize(
    body: OptimizePromptRequest, caller: CallerDep, settings: SettingsDep, _: BackendHeaders
) -> OptimizePromptResponse:
    """Rewrite a prompt for image or video generation, with composition/lighting/lens or
    motion/camera/duration cues."""
    return await v1.optimize(caller, settings, body)
