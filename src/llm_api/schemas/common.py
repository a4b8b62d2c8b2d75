"""Request and response parts shared by the API families."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Request models reject wrong types instead of coercing them ("5" is not 5, "yes" is
#: not true), and ignore unknown fields so clients can send what other APIs accept.
STRICT_REQUEST = ConfigDict(strict=True, extra="ignore")

#: most messages one request may carry (long histories should be summarised first)
MAX_MESSAGES = 500

TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class FunctionDefinition(BaseModel):
    model_config = STRICT_REQUEST

    name: str = Field(pattern=TOOL_NAME_PATTERN, description="Letters, digits, _ and -")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the arguments object"
    )


class ToolDefinition(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["function"] = "function"
    function: FunctionDefinition


class FunctionName(BaseModel):
    model_config = STRICT_REQUEST

    name: str


class NamedToolChoice(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["function"] = "function"
    function: FunctionName


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class JsonSchemaFormat(BaseModel):
    model_config = STRICT_REQUEST

    name: str = "response"
    schema_: dict[str, Any] = Field(alias="schema", description="The JSON Schema to follow")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = STRICT_REQUEST

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_when_needed(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is 'json_schema'")
        return self
