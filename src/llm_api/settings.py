"""One settings object, built from environment variables (local) or Worker vars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llm_api.catalog import DEFAULT_MODEL, resolve_model
from llm_api.errors import ApiError


class ConfigError(ValueError):
    """A configuration value is missing or malformed (a start-up error, not an HTTP one)."""


@dataclass(frozen=True, slots=True)
class Settings:
    #: catalog model used when a request names none (LLM_API_DEFAULT_MODEL)
    default_model: str = DEFAULT_MODEL
    #: largest accepted request body in bytes (LLM_API_MAX_BODY_BYTES)
    max_body_bytes: int = 1_000_000

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        default_model = env.get("LLM_API_DEFAULT_MODEL") or DEFAULT_MODEL
        try:
            default_model = resolve_model(default_model).short_id
        except ApiError as exc:
            raise ConfigError(f"LLM_API_DEFAULT_MODEL: {exc.message}") from None
        return cls(
            default_model=default_model,
            max_body_bytes=_positive_int(env, "LLM_API_MAX_BODY_BYTES", cls.max_body_bytes),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value
