"""One settings object, built from environment variables (local) or Worker vars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from llm_api.catalog import DEFAULT_MODEL, FAST_MODEL, TUTOR_MODEL, resolve_model
from llm_api.errors import ApiError

#: defaults as module constants: with ``slots=True`` a class attribute such as
#: ``Settings.max_body_bytes`` is a slot descriptor, not the default value
MAX_BODY_BYTES = 1_000_000
RATE_LIMIT_RPM = 100
FIRST_TOKEN_TIMEOUT_S = 60.0
TOTAL_TIMEOUT_S = 300.0
BACKEND_RETRIES = 2


class ConfigError(ValueError):
    """A configuration value is missing or malformed (a start-up error, not an HTTP one)."""


@dataclass(frozen=True, slots=True)
class Settings:
    #: catalog model used when a request names none (LLM_API_DEFAULT_MODEL)
    default_model: str = DEFAULT_MODEL
    #: catalog model for prompt optimisation, the seed's "fast LLM" (LLM_API_FAST_MODEL)
    fast_model: str = FAST_MODEL
    #: catalog model for level feedback, topics and session summaries; needs JSON mode
    #: (LLM_API_TUTOR_MODEL)
    tutor_model: str = TUTOR_MODEL
    #: largest accepted request body in bytes (LLM_API_MAX_BODY_BYTES)
    max_body_bytes: int = MAX_BODY_BYTES
    #: requests per minute per key unless the key says otherwise (LLM_API_RATE_LIMIT_RPM)
    rate_limit_rpm: int = RATE_LIMIT_RPM
    #: origins allowed to call from browsers; ("*",) for any (ALLOWED_ORIGINS, comma-separated)
    allowed_origins: tuple[str, ...] = ("*",)
    #: seconds to wait for a model's first token / whole answer before a 504
    #: (LLM_API_FIRST_TOKEN_TIMEOUT, LLM_API_TOTAL_TIMEOUT)
    first_token_timeout_s: float = FIRST_TOKEN_TIMEOUT_S
    total_timeout_s: float = TOTAL_TIMEOUT_S
    #: retries of retryable backend faults before the first byte (LLM_API_BACKEND_RETRIES)
    backend_retries: int = BACKEND_RETRIES
    #: bearer token for /admin/keys (ADMIN_TOKEN, a secret); None disables the admin API
    admin_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            default_model=_model(env, "LLM_API_DEFAULT_MODEL", DEFAULT_MODEL),
            fast_model=_model(env, "LLM_API_FAST_MODEL", FAST_MODEL),
            tutor_model=_model(env, "LLM_API_TUTOR_MODEL", TUTOR_MODEL, json_mode=True),
            max_body_bytes=_positive_int(env, "LLM_API_MAX_BODY_BYTES", MAX_BODY_BYTES),
            rate_limit_rpm=_positive_int(env, "LLM_API_RATE_LIMIT_RPM", RATE_LIMIT_RPM),
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS")),
            admin_token=(env.get("ADMIN_TOKEN") or "").strip() or None,
            first_token_timeout_s=_positive_float(
                env, "LLM_API_FIRST_TOKEN_TIMEOUT", FIRST_TOKEN_TIMEOUT_S
            ),
            total_timeout_s=_positive_float(env, "LLM_API_TOTAL_TIMEOUT", TOTAL_TIMEOUT_S),
            backend_retries=_count(env, "LLM_API_BACKEND_RETRIES", BACKEND_RETRIES),
        )


def _origins(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ("*",)
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise ConfigError(f"ALLOWED_ORIGINS: {origin!r} is not like https://app.example")
    return origins


def _model(env: Mapping[str, str], name: str, default: str, *, json_mode: bool = False) -> str:
    try:
        model = resolve_model(env.get(name) or default)
    except ApiError as exc:
        raise ConfigError(f"{name}: {exc.message}") from None
    if json_mode and not model.supports_json_mode:
        raise ConfigError(f"{name}: '{model.short_id}' has no JSON mode, which this job needs")
    return model.short_id


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


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {raw}")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if not raw.strip().isdigit():
        raise ConfigError(f"{name} must be a whole number of 0 or more, got {raw!r}")
    return int(raw)
