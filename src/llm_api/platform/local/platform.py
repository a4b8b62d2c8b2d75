"""The CPython host's platform: one of three backends, chosen by name.

Backends are imported lazily so that choosing one never needs another's packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llm_api.binding.protocol import AIBinding, Platform
from llm_api.platform.local.state import SqliteKeyStore, SqliteUsageStore, state_db_path
from llm_api.ratelimit import InProcessLimiter
from llm_api.settings import ConfigError, Settings

BACKENDS = ("embedded", "workers-ai", "openai")


class LocalBackend(AIBinding, Protocol):
    """A backend this host starts and stops: ``load`` before serving (the embedded model
    loads its weights; a remote backend has nothing to do), ``aclose`` at shutdown."""

    async def load(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LocalOptions:
    backend: str = "embedded"
    model_path: str | None = None  # embedded: a GGUF file instead of SmolLM2's
    context_size: int = 8192  # embedded: llama.cpp context length
    threads: int | None = None  # embedded: llama.cpp threads (default: half the cores)
    state_dir: Path = Path(".state")  # keys and usage (SQLite)


def build_backend(options: LocalOptions, env: Mapping[str, str]) -> LocalBackend:
    if options.backend == "embedded":
        from llm_api.platform.embedded.backend import EmbeddedBackend

        return EmbeddedBackend(
            model_path=options.model_path, n_ctx=options.context_size, n_threads=options.threads
        )
    if options.backend == "workers-ai":
        from llm_api.platform.remote.workers_ai import WorkersAIRestBackend

        account = _required(env, "CLOUDFLARE_ACCOUNT_ID", "the workers-ai backend")
        token = _required(env, "CLOUDFLARE_API_TOKEN", "the workers-ai backend")
        base_url = env.get("CLOUDFLARE_API_BASE_URL") or None  # tests point it at a fake
        if base_url:
            return WorkersAIRestBackend(account, token, base_url=base_url)
        return WorkersAIRestBackend(account, token)
    if options.backend == "openai":
        from llm_api.platform.remote.openai import OpenAICompatibleBackend

        base_url = _required(env, "OPENAI_BASE_URL", "the openai backend")
        return OpenAICompatibleBackend(
            base_url,
            api_key=env.get("OPENAI_API_KEY") or None,
            model=env.get("OPENAI_MODEL") or None,
        )
    raise ConfigError(f"unknown backend {options.backend!r}; choose one of {', '.join(BACKENDS)}")


def build_local_platform(options: LocalOptions, env: Mapping[str, str]) -> Platform:
    """The local host: the chosen backend, keys and usage in SQLite under the state
    folder, and an in-process sliding-window limiter (one process serves every request)."""
    settings = Settings.from_mapping(env)
    database = state_db_path(options.state_dir)
    return Platform(
        ai=build_backend(options, env),
        settings=settings,
        keys=SqliteKeyStore(database),
        limiter=InProcessLimiter(),
        usage=SqliteUsageStore(database),
    )


def _required(env: Mapping[str, str], name: str, purpose: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set for {purpose}")
    return value
