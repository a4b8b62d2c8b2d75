"""OpenAI's Responses API (`/v1/responses`), as the official SDKs and the AI SDK send it.

Field for field from openai-python's ``types/responses`` (``response_create_params``,
``response``, ``response_output_item``). The request refuses fields it does not know (a 400
naming the field: a client asking for `background`, `conversation` or `prompt` learns this
server does not do them), and takes the harmless ones SDKs send with their harmless values
only (`include: []`, `truncation: "disabled"`, `background: false`). Items inside `input` keep
OpenAI's extra fields (`id`, `status`, `annotations`...) unread: an SDK replays output items
as input as they came.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from llm_api.schemas.common import MAX_MESSAGES, STRICT_REQUEST, TOOL_NAME_PATTERN

#: the top-level request: strict types, and no field this server would silently ignore
STRICT_CLOSED = ConfigDict(strict=True, extra="forbid")
#: OpenAI's metadata bounds: 16 pairs, keys up to 64 characters, values up to 512
MAX_METADATA = 16
Metadata = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]]


def _text_or(parts: Any) -> Any:
    """A string, or a list of ``parts``, told apart up front: an error then names the
    field (``input[0].content[1]``), not pydantic's union branches (the ``-`` in each tag
    marks it a label that ``http.handlers`` leaves out of the field path)."""
    return Annotated[
        Annotated[str, Tag("as-text")]
        | Annotated[list[parts], Field(max_length=MAX_MESSAGES), Tag("as-list")],
        Discriminator(lambda value: "as-text" if isinstance(value, str) else "as-list"),
    ]


class TextPart(BaseModel):
    """`input_text` (user, system) and `output_text` (an assistant turn replayed)."""

    model_config = STRICT_REQUEST

    type: Literal["input_text", "output_text"]
    text: str


class RefusalPart(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class MessageItem(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: _text_or(ContentPart)  # type: ignore[valid-type]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text if isinstance(p, TextPart) else p.refusal for p in self.content)


class FunctionCallItem(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["function_call"]
    call_id: str = Field(max_length=256)
    name: str
    arguments: str = Field(description="The arguments as JSON text")


class FunctionCallOutputItem(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["function_call_output"]
    call_id: str = Field(max_length=256)
    output: _text_or(TextPart)  # type: ignore[valid-type]

    def text(self) -> str:
        return self.output if isinstance(self.output, str) else "".join(p.text for p in self.output)


class ReasoningInputItem(BaseModel):
    """A reasoning item replayed: accepted and left out (chat models take no past thinking)."""

    model_config = STRICT_REQUEST

    type: Literal["reasoning"]


class ItemReference(BaseModel):
    """An earlier output item of this key's stored responses, by id (the AI SDK sends these)."""

    model_config = STRICT_REQUEST

    type: Literal["item_reference"]
    id: str = Field(max_length=128)


def _item_type(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else "message"
    return f"item-{kind}"  # an "easy" message has no type


InputItem = Annotated[
    Annotated[MessageItem, Tag("item-message")]
    | Annotated[FunctionCallItem, Tag("item-function_call")]
    | Annotated[FunctionCallOutputItem, Tag("item-function_call_output")]
    | Annotated[ReasoningInputItem, Tag("item-reasoning")]
    | Annotated[ItemReference, Tag("item-item_reference")],
    Discriminator(
        _item_type,
        custom_error_type="input_item_type",
        custom_error_message="an item's type is message, function_call, function_call_output, "
        "reasoning or item_reference (OpenAI's built-in tools are not run here)",
    ),
]


class FunctionTool(BaseModel):
    """Responses' function tool: flat, unlike Chat Completions' `{"function": {...}}`."""

    model_config = STRICT_REQUEST

    type: Literal["function"]
    name: str = Field(pattern=TOOL_NAME_PATTERN, description="Letters, digits, _ and -")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="JSON Schema")
    strict: bool | None = None


class NamedFunction(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["function"]
    name: str


class TextFormatText(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["text"]


class TextFormatJsonObject(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["json_object"]


class TextFormatJsonSchema(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["json_schema"]
    name: str = Field(max_length=64)
    schema_: dict[str, Any] = Field(alias="schema", description="The JSON Schema to follow")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[
    TextFormatText | TextFormatJsonObject | TextFormatJsonSchema, Field(discriminator="type")
]


class TextConfig(BaseModel):
    model_config = STRICT_REQUEST

    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(BaseModel):
    model_config = STRICT_REQUEST

    effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(BaseModel):
    model_config = STRICT_REQUEST

    include_obfuscation: bool | None = None


class ResponseCreateRequest(BaseModel):
    model_config = STRICT_CLOSED

    model: str = Field(description="Catalog short id or full `@cf/meta/...` id")
    input: _text_or(InputItem) | None = None  # type: ignore[valid-type]
    instructions: str | None = Field(
        default=None, description="A system message for this response only (not carried over)"
    )
    previous_response_id: str | None = Field(default=None, max_length=128)
    store: bool = Field(default=True, description="Keep it for GET and previous_response_id")
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    tools: list[FunctionTool] | None = Field(default=None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedFunction | None = None
    parallel_tool_calls: bool | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    metadata: Metadata | None = Field(default=None, max_length=MAX_METADATA)
    user: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)
    prompt_cache_key: str | None = Field(default=None, max_length=256)
    # what SDKs send that changes nothing here, in the values that change nothing
    include: list[Literal["reasoning.encrypted_content"]] | None = Field(default=None)
    truncation: Literal["disabled"] | None = None
    background: Literal[False] | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    top_logprobs: Literal[0] | None = None


# --- what the server answers -------------------------------------------------------------


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)


class OutputMessage(BaseModel):
    type: Literal["message"] = "message"
    id: str
    status: Literal["completed", "incomplete"]
    role: Literal["assistant"] = "assistant"
    content: list[OutputText]


class OutputFunctionCall(BaseModel):
    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    name: str
    arguments: str = Field(description="JSON text")
    status: Literal["completed", "incomplete"]


class SummaryText(BaseModel):
    type: Literal["summary_text"] = "summary_text"
    text: str


class OutputReasoning(BaseModel):
    type: Literal["reasoning"] = "reasoning"
    id: str
    summary: list[SummaryText]
    status: Literal["completed", "incomplete"]


OutputItem = Annotated[
    OutputMessage | OutputFunctionCall | OutputReasoning, Field(discriminator="type")
]


class InputTokensDetails(BaseModel):
    cached_tokens: int
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(BaseModel):
    code: Literal["server_error", "rate_limit_exceeded"]
    message: str


class ResponseObject(BaseModel):
    """A response, as `POST` answers it and `GET` returns it (OpenAI's `Response`)."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["completed", "incomplete", "in_progress", "failed"]
    completed_at: int | None = None
    model: str
    output: list[OutputItem]
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[FunctionTool]
    tool_choice: Literal["auto", "none", "required"] | NamedFunction
    parallel_tool_calls: bool
    text: dict[str, Any]
    reasoning: dict[str, Any] | None = None
    truncation: Literal["disabled"] = "disabled"
    service_tier: Literal["default"] = "default"
    store: bool
    background: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: Literal[True] = True
