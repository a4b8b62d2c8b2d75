"""The REST v1 API (`/api/v1/llm`), as the seed "LLM APIs" documents it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from llm_api.schemas.common import MAX_MESSAGES, STRICT_REQUEST


class V1Message(BaseModel):
    model_config = STRICT_REQUEST

    role: Literal["system", "user", "assistant"]
    content: str


class V1ChatRequest(BaseModel):
    model_config = STRICT_REQUEST

    messages: list[V1Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: str | None = Field(default=None, description="Defaults to the configured model")
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool = Field(
        default=False, description="Stream `chat.completion.chunk` events (OpenAI's format)"
    )


class OptimizePromptRequest(BaseModel):
    model_config = STRICT_REQUEST

    prompt: str = Field(min_length=1, max_length=4000, description="The prompt to improve")
    type: Literal["image", "video"] = Field(description="What the prompt will generate")
    style: str | None = Field(default=None, max_length=200, description="e.g. photorealistic")
    enhance_details: bool = Field(default=True, description="false keeps the prompt short")


class OptimizePromptResponse(BaseModel):
    original_prompt: str
    optimized_prompt: str
    improvements: list[str]
