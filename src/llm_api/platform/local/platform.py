"""The CPython host's platform: one of three backends, chosen by name.

Backends are imported lazily so that choosing one never needs another's packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llm_api.binding.protocol import AIBinding, Platform
from llm_api.catalog import EMBEDDED_MODEL
from llm_api.catalog.source import HostCatalog
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.platform.local.response_store import SqliteResponseStore
from llm_api.platform.local.state import SqliteKeyStore, SqliteUsageStore, state_db_path
from llm_api.settings import BACKENDS, ConfigError, ServeSettings, Settings


class LocalBackend(AIBinding, Protocol):
    """A backend this host starts and stops: ``load`` before serving (the embedded model
    loads its weights; a remote backend has nothing to do), ``aclose`` at shutdown."""

    async def load(self) -> None: ...

    async def aclose(self) -> None: ...


def build_backend(serve: ServeSettings) -> LocalBackend:
    """The backend ``serve.backend`` names; ServeSettings has checked what it needs."""
    if serve.backend == "embedded":
        from llm_api.platform.embedded.backend import EmbeddedBackend

        return EmbeddedBackend(
            model_path=serve.model_path, n_ctx=serve.context_size, n_threads=serve.threads
        )
    if serve.backend == "workers-ai":
        from llm_api.platform.remote.workers_ai import WorkersAIRestBackend

        account, token = serve.cloudflare_account_id or "", serve.cloudflare_api_token or ""
        base_url = serve.cloudflare_api_base_url  # tests point it at a fake
        if base_url:
            return WorkersAIRestBackend(account, token, base_url=base_url)
        return WorkersAIRestBackend(account, token)
    if serve.backend == "openai":
        from llm_api.platform.remote.openai import OpenAICompatibleBackend

        return OpenAICompatibleBackend(
            serve.openai_base_url or "", api_key=serve.openai_api_key, model=serve.openai_model
        )
    raise ConfigError(f"unknown backend {serve.backend!r}; choose one of {', '.join(BACKENDS)}")


@dataclass(frozen=True, slots=True)
class LocalHost:
    """What ``llm-api serve`` runs: the app's platform, and typed handles on the two parts
    the host itself drives (the backend to load and close, the key store for the dev key)."""

    platform: Platform
    backend: LocalBackend
    keys: SqliteKeyStore


def build_local_host(serve: ServeSettings, settings: Settings) -> LocalHost:
    """The local host: the chosen backend, keys, usage and stored responses in SQLite
    under the state folder, and an in-process sliding-window limiter (one process serves
    every request)."""
    database = state_db_path(serve.state_dir)
    backend = build_backend(serve)
    keys = SqliteKeyStore(database)
    # the embedded model answers every catalog id: the catalog says what it can write
    catalog = None
    if serve.backend == "embedded":
        catalog = HostCatalog(successors=settings.model_successors, answered_by=EMBEDDED_MODEL)
    platform = Platform(
        ai=backend,
        settings=settings,
        keys=keys,
        limiter=InProcessLimiter(),
        usage=SqliteUsageStore(database),
        responses=SqliteResponseStore(database),
        catalog=catalog,  # type: ignore[arg-type]  # None: the platform builds its own
    )
    return LocalHost(platform=platform, backend=backend, keys=keys)
