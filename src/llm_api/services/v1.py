"""The REST v1 family (`/api/v1/llm`): its chat in OpenAI's ``chat.completion`` shapes
(as its seed documents), and prompt optimisation on the fast model."""

from __future__ import annotations

from typing import Any

from llm_api.errors import V1
from llm_api.schemas.v1 import OptimizePromptRequest, OptimizePromptResponse, V1ChatRequest
from llm_api.services.generation import Caller, GenerationRequest, complete
from llm_api.services.openai import chunk_frames, completion_body
from llm_api.services.prompts import optimize_prompt
from llm_api.settings import Settings
from llm_api.sse import Frames


async def chat(caller: Caller, settings: Settings, body: V1ChatRequest) -> dict[str, Any] | Frames:
    sampling: dict[str, Any] = {"temperature": body.temperature}
    if body.max_tokens is not None:
        sampling["max_tokens"] = body.max_tokens
    request = GenerationRequest(
        model=caller.catalog.resolve(body.model or settings.default_model),
        messages=[message.model_dump() for message in body.messages],
        sampling=sampling,
    )
    if body.stream:  # usage always comes last, errors in v1's envelope; it offers no tools
        return await chunk_frames(caller, request, include_usage=True, family=V1, call_deltas=False)
    return completion_body(await complete(caller, request), request.model.id)


async def optimize(
    caller: Caller, settings: Settings, body: OptimizePromptRequest
) -> OptimizePromptResponse:
    return await optimize_prompt(caller, caller.catalog.resolve(settings.fast_model), body)
