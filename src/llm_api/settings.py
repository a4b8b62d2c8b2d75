"""One settings object, built from environment variables (local) or Worker vars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llm_api.catalog import DEFAULT_MODEL, FAST_MODEL, resolve_model
from llm_api.errors import ApiError


class ConfigError(ValueError):
    """A configuration value is missing or malformed (a start-up error, not an HTTP one)."""


@dataclass(frozen=True, slots=True)
class Settings:
    #: catalog model used when a request names none (LLM_API_DEFAULT_MODEL)
    default_model: str = DEFAULT_MODEL
    #: catalog model for prompt optimisation, the seed's "fast LLM" (LLM_API_FAST_MODEL)
    fast_model: str = FAST_MODEL
    #: largest accepted request body in bytes (LLM_API_MAX_BODY_BYTES)
    max_body_bytes: int = 1_000_000

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            default_model=_model(env, "LLM_API_DEFAULT_MODEL", DEFAULT_MODEL),
            fast_model=_model(env, "LLM_API_FAST_MODEL", FAST_MODEL),
            max_body_bytes=_positive_int(env, "LLM_API_MAX_BODY_BYTES", cls.max_body_bytes),
        )


def _model(env: Mapping[str, str], name: str, default: str) -> str:
    try:
        return resolve_model(env.get(name) or default).short_id
    except ApiError as exc:
        raise ConfigError(f"{name}: {exc.message}") from None


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
