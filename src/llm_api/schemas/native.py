"""The native API (`/api/llm`), shaped as the seed "LLM Text Generation API" documents it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from llm_api.schemas.common import (
    MAX_MESSAGES,
    STRICT_REQUEST,
    ResponseFormat,
    ToolChoice,
    ToolDefinition,
    Usage,
)

MAX_SEED = 9_999_999_999  # Workers AI's bound


class SamplingParams(BaseModel):
    """Generation settings shared by `generate` and `chat/completions` (seed defaults)."""

    model_config = STRICT_REQUEST

    model: str | None = Field(
        default=None,
        description="Short id (`llama-3.2-3b-instruct`) or full id (`@cf/meta/...`); "
        "defaults to the configured default model",
    )
    stream: bool = Field(default=False, description="Answer with server-sent events")
    max_tokens: int = Field(default=1024, ge=1, description="Most tokens to generate")
    temperature: float = Field(default=0.7, ge=0, le=5)
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=40, ge=1, le=50)
    repetition_penalty: float = Field(default=1.1, ge=0, le=2)
    frequency_penalty: float = Field(default=0, ge=-2, le=2)
    presence_penalty: float = Field(default=0, ge=-2, le=2)
    seed: int | None = Field(default=None, ge=1, le=MAX_SEED, description="For reproducible output")


class GenerateRequest(SamplingParams):
    prompt: str = Field(min_length=1, description="The text to continue or answer")


class ToolCallIn(BaseModel):
    """An earlier assistant tool call, sent back in the conversation."""

    model_config = STRICT_REQUEST

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    model_config = STRICT_REQUEST

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCallIn] | None = None

    @model_validator(mode="after")
    def _content_present(self) -> ChatMessage:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(f"content is required for a '{self.role}' message")
        return self


class ChatRequest(SamplingParams):
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=MAX_MESSAGES, description="The conversation so far"
    )
    response_format: ResponseFormat | None = Field(
        default=None, description='`{"type": "json_object"}` makes the text valid JSON'
    )
    tools: list[ToolDefinition] | None = Field(
        default=None, description="Functions the model may call (models with supportsTools)"
    )
    tool_choice: ToolChoice | None = None


class ModelCard(BaseModel):
    id: str
    name: str
    contextWindow: int
    supportsTools: bool
    costPerMInput: float
    costPerMOutput: float
    # set only for a model Cloudflare retired (or plans to): the seed's six fields stay as
    # they were for every other model
    deprecated: bool | None = None
    retiredOn: str | None = None  # ISO date; absent while only planned
    replacement: str | None = None  # full id of the model that answers for it
    plannedDeprecation: str | None = None  # ISO date of the live list's planned retirement


class ModelsResponse(BaseModel):
    models: list[ModelCard]


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
FINISH_REASON = Field(
    description="Why generation ended: `stop` (the answer is whole), `length` (`max_tokens` "
    "cut it: the text, or a call's arguments, are partial), `tool_calls`, `content_filter`"
)


class GenerateResponse(BaseModel):
    text: str
    model: str
    usage: Usage
    finish_reason: FinishReason = FINISH_REASON


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any] | str = Field(
        description="An object; the JSON text as far as it was generated when "
        "`finish_reason` is `length`"
    )


class ChatResponse(BaseModel):
    text: str
    model: str
    usage: Usage
    finish_reason: FinishReason = FINISH_REASON
    tool_calls: list[ToolCallOut] | None = None
