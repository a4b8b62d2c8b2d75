"""The OpenAI wire format (`/v1`), as the official SDKs send and expect it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_api.schemas.common import (
    MAX_MESSAGES,
    STRICT_REQUEST,
    ResponseFormat,
    ToolChoice,
    ToolDefinition,
    Usage,
)


class TextPart(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["text"]
    text: str


class MediaPart(BaseModel):
    """A content part that is not text (an image, audio, a file): read only so that the
    service can refuse it by its place (``messages[i].content[j]``), not as a bad type."""

    model_config = ConfigDict(strict=True, extra="allow")

    type: Literal["image_url", "input_audio", "file"]


ContentPart = Annotated[TextPart | MediaPart, Field(discriminator="type")]


class FunctionCall(BaseModel):
    model_config = STRICT_REQUEST

    name: str
    arguments: str = Field(description="The arguments as a JSON string")


class ToolCall(BaseModel):
    model_config = STRICT_REQUEST

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    model_config = STRICT_REQUEST

    role: Literal["system", "developer", "user", "assistant", "tool"]
    # the list first: a bad part's error then names its place, not the plain-string branch
    content: list[ContentPart] | str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _content_present(self) -> Message:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(f"content is required for a '{self.role}' message")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("tool_call_id is required for a 'tool' message")
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


class StreamOptions(BaseModel):
    model_config = STRICT_REQUEST

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = STRICT_REQUEST

    model: str = Field(description="Catalog short id or full `@cf/meta/...` id")
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    # float bounds for float fields: a broken bound's type picks OpenAI's `decimal_*` code
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = Field(
        default=None,
        description="For reasoning models: low, medium or high pass through; none or "
        "minimal turn thinking off where the model allows (else low). Ignored by other models.",
    )
    logprobs: bool | None = Field(
        default=None,
        description="Return each answer token's log-probability (`choices[].logprobs`). "
        "Only where the backend gives them (the embedded model, an OpenAI-compatible "
        "upstream); a 400 on Workers AI",
    )
    top_logprobs: int | None = Field(
        default=None,
        ge=0,
        le=20,
        description="With `logprobs`: the most likely tokens at each place, best first",
    )
    n: int | None = Field(default=None, description="Only 1 is supported")
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = Field(
        default=None, description="Accepted; every request is served at the one tier, `default`"
    )
    user: str | None = None
    prompt_cache_key: str | None = Field(
        default=None,
        max_length=256,
        description="A conversation id: sent to Workers AI as `x-session-affinity`, so that "
        "requests of one conversation reuse its cached prompt prefix",
    )

    @model_validator(mode="after")
    def _stop_list(self) -> ChatCompletionRequest:
        if isinstance(self.stop, list) and len(self.stop) > 4:
            raise ValueError("stop: at most 4 sequences are allowed")
        return self


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    #: a reasoning model's thinking (the vLLM and DeepSeek convention), never in ``content``
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    #: OpenAI's refusal text; this API never refuses in words, so always null
    refusal: None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float = Field(le=0, description="The natural log of the token's probability")
    bytes: list[int] | None = Field(description="The token's UTF-8 bytes")


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(description="The most likely tokens, best first")


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None
    refusal: None = None


class PromptTokensDetails(BaseModel):
    cached_tokens: int = Field(description="Prompt tokens served from the prompt prefix cache")


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = Field(description="Completion tokens the model spent thinking")


class CompletionUsage(Usage):
    """OpenAI's usage; each detail present only when the upstream reported it."""

    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    #: OpenAI's backend configuration id; none here
    system_fingerprint: None = None
    service_tier: Literal["default"] = "default"


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    # extra fields, only for a model Cloudflare retired (clients ignore what they don't know)
    deprecated: bool | None = None
    retired_on: str | None = None
    replacement: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]
