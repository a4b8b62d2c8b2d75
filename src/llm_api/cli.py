"""The ``llm-api`` command: serve the API on this machine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from llm_api.errors import ApiError
from llm_api.platform.local.client_limits import limits_of
from llm_api.platform.local.http_protocol import uvicorn_options
from llm_api.platform.local.platform import LocalHost, build_local_host
from llm_api.platform.local.state import SqliteKeyStore, ensure_dev_key, state_db_path
from llm_api.platform.local.static_site import default_static_dir
from llm_api.platform.local.static_site import install as install_static_site
from llm_api.platform.local.tuning import (
    LoopUnavailable,
    event_loop_factory,
    freeze_startup_objects,
)
from llm_api.services.keys import create_key
from llm_api.settings import (
    BACKENDS,
    ConfigError,
    ServeSettings,
    Settings,
    StateSettings,
    field_meta,
    load,
)

logger = logging.getLogger("llm_api")

#: not our settings, but read (once, at start) by the remote backends' HTTP client
PROXIES = "  HTTPS_PROXY, HTTP_PROXY, NO_PROXY\n      proxies for the remote backends' requests"


def build_parser() -> argparse.ArgumentParser:
    """The command line, its options and help generated from the settings models."""
    parser = argparse.ArgumentParser(
        prog="llm-api", description="LLM text-generation API: the local host."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    backends = "\n".join(
        textwrap.fill(f"{name:<11} {text}", 88, initial_indent="  ", subsequent_indent=" " * 14)
        for name, text in BACKENDS.items()
    )
    serve = commands.add_parser(
        "serve",
        help="serve the API over HTTP",
        description="Serve the API (native, v1 and OpenAI-compatible) over HTTP.",
        epilog=f"{describe(Settings, ServeSettings)}\n{PROXIES}\n\nbackends:\n{backends}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(serve, ServeSettings)
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
        add_flags(sub, StateSettings)
    return parser


def add_flags(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """One option per field with a flag; unset options stay out of the namespace, so that
    ``settings.load`` can tell a flag from a default."""
    groups: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        extra = field_meta(field)
        if not extra.get("flag"):
            continue
        group = extra.get("group")
        target = groups.setdefault(group, parser.add_argument_group(group)) if group else parser
        kind = _plain(field.annotation)
        choices = get_args(kind) if get_origin(kind) is Literal else None
        target.add_argument(
            extra["flag"], dest=name, default=argparse.SUPPRESS, choices=choices,
            metavar=None if choices else extra.get("metavar") or _METAVARS.get(kind),
            help=f"{field.description} (default {_shown(field)}; or {field.alias})".replace(
                "%", "%%"),
        )  # fmt: skip


def describe(*models: type[BaseModel]) -> str:
    """The variables that have no flag, for an epilog: name, then what and default."""
    lines = ["environment variables without a flag (each flag above names its own):"]
    for model in models:
        for field in model.model_fields.values():
            if field_meta(field).get("flag") or field.alias is None:
                continue
            text = f"{field.description} (default {_shown(field)})"
            lines.append(f"  {field.alias}")
            lines += textwrap.wrap(text, 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


_METAVARS: dict[Any, str] = {int: "N", float: "S", Path: "DIR", str: "TEXT"}


def _shown(field: FieldInfo) -> str:
    shown = field_meta(field).get("shown")
    if shown:
        return str(shown)
    default = field.default
    if default is None or default is PydanticUndefined:
        return "unset"
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _plain(annotation: Any) -> Any:
    """``int`` for ``int | None``."""
    if isinstance(annotation, UnionType):
        return next(arg for arg in get_args(annotation) if arg is not NoneType)
    return annotation


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)
    flags: dict[str, Any] = vars(args)
    try:  # each command validates only what it reads: `keys` never looks at LLM_API_PORT
        if args.command == "keys":
            return asyncio.run(_keys(args, load(StateSettings, env, flags)))
        serve, settings = _serve_settings(env, flags)
        host = build_local_host(serve, settings)
        loop_factory = event_loop_factory(serve.loop)
    except (ConfigError, LoopUnavailable) as exc:
        print(f"llm-api: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=serve.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    from llm_api.platform.local.startup import PortUnavailable, listening_socket

    try:  # before the model loads or a key is made: a busy port is said at once
        sock = listening_socket(serve.host, serve.port)
    except PortUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    with sock, asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(host, serve, sock))


def _serve_settings(
    env: Mapping[str, str], flags: Mapping[str, Any]
) -> tuple[ServeSettings, Settings]:
    """Both models at once, so that one start names every bad value, not the first."""
    errors: list[str] = []
    try:
        serve = load(ServeSettings, env, flags)
    except ConfigError as exc:
        errors.append(str(exc))
    try:
        settings = Settings.from_mapping(env)
    except ConfigError as exc:
        errors.append(str(exc))
    if errors:
        raise ConfigError("; ".join(errors))
    return serve, settings


def static_dir_of(serve: ServeSettings) -> Path | None:
    """--static-dir if given ('' for none), else the checkout's playground folder."""
    if serve.static_dir is None:
        return default_static_dir()
    return Path(serve.static_dir) if serve.static_dir else None


async def _serve(host: LocalHost, serve: ServeSettings, sock: socket.socket) -> int:
    import uvicorn

    from llm_api.app import create_app
    from llm_api.binding.protocol import fixed_platform
    from llm_api.platform.local.startup import AnnouncingServer, Banner, browsable_url

    platform = host.platform
    try:
        await host.backend.load()  # load the model before the first request, not during it
    except Exception as exc:
        print(f"llm-api: could not load the model: {exc}", file=sys.stderr)
        return 1
    static_dir = static_dir_of(serve)
    if static_dir is not None and not static_dir.is_dir():
        print(f"llm-api: --static-dir {static_dir} is not a folder", file=sys.stderr)
        return 2
    # after the model and the static folder, so a failed start mints no key it never shows
    dev_key = await ensure_dev_key(host.keys)
    banner = Banner(
        base_url=browsable_url(sock),
        engine=platform.ai.engine,
        playground=static_dir is not None,
        state_dir=serve.state_dir,
        dev_key=dev_key,
    )
    app = create_app(fixed_platform(platform))
    if static_dir is not None:
        install_static_site(app, static_dir)
    config = uvicorn.Config(
        app,
        host=serve.host,
        port=serve.port,
        log_level=serve.log_level,
        timeout_graceful_shutdown=5,
        **uvicorn_options(limits_of(serve)),
    )
    server = AnnouncingServer(config, announce=lambda: print(banner.text(), flush=True))
    frozen = freeze_startup_objects()
    logger.debug("froze %d start-up objects out of the garbage collector's scans", frozen)
    if static_dir is not None:
        logger.info("playground files from %s", static_dir)
    try:
        await server.serve(sockets=[sock])
    finally:
        await host.backend.aclose()
    return 0


async def _keys(args: argparse.Namespace, state: StateSettings) -> int:
    store = SqliteKeyStore(state_db_path(state.state_dir))
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
