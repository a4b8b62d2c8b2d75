"""The local host's limits on each client, and their ``llm-api serve`` flags.

Enforced by ``local_http``'s protocol before the app runs; see its docstring for how.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class ClientLimits:
    #: request line plus headers, in bytes (LLM_API_MAX_HEADER_BYTES)
    max_header_bytes: int = 16 * 1024
    #: headers per request (LLM_API_MAX_HEADERS)
    max_headers: int = 100
    #: seconds from a connection's opening, or a later request's first byte, to the end of
    #: the request's headers (LLM_API_HEADER_TIMEOUT)
    header_timeout_s: float = 10.0
    #: longest pause, in seconds, between two reads of a body (LLM_API_BODY_TIMEOUT)
    body_timeout_s: float = 10.0
    #: seconds from the end of the headers to the end of the body (LLM_API_BODY_DEADLINE)
    body_deadline_s: float = 60.0
    #: open connections served at once (LLM_API_MAX_CONNECTIONS)
    max_connections: int = 100


#: flag, environment variable, field, type and help text of each limit
_OPTIONS = (
    ("--max-header-bytes", "LLM_API_MAX_HEADER_BYTES", "max_header_bytes", int,
     "largest request line plus headers, in bytes; 431 beyond"),
    ("--max-headers", "LLM_API_MAX_HEADERS", "max_headers", int,
     "most headers in one request; 431 beyond"),
    ("--header-timeout", "LLM_API_HEADER_TIMEOUT", "header_timeout_s", float,
     "seconds a request's line and headers may take to arrive; 408 after"),
    ("--body-timeout", "LLM_API_BODY_TIMEOUT", "body_timeout_s", float,
     "longest pause in seconds while a request body arrives; 408 after"),
    ("--body-deadline", "LLM_API_BODY_DEADLINE", "body_deadline_s", float,
     "seconds a whole request body may take to arrive; 408 after"),
    ("--max-connections", "LLM_API_MAX_CONNECTIONS", "max_connections", int,
     "open connections served at once; a request on another is answered 503"),
)  # fmt: skip


def add_limit_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """One flag per limit, defaulting to its environment variable, then to ours."""
    defaults = ClientLimits()
    group = parser.add_argument_group("limits on each client (answered before the app runs)")
    for flag, variable, name, kind, text in _OPTIONS:
        group.add_argument(
            flag,
            type=_positive(kind),
            # a string default goes through `type` too: a bad variable is reported like a flag
            default=env.get(variable) or str(getattr(defaults, name)),
            dest=name,
            metavar="N" if kind is int else "S",
            help=f"{text} (default %(default)s; or {variable})",
        )


def limits_from_args(args: argparse.Namespace) -> ClientLimits:
    return ClientLimits(**{field.name: getattr(args, field.name) for field in fields(ClientLimits)})


def _positive(kind: type) -> Any:
    def parse(raw: str) -> int | float:
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if not value > 0:
            whole = "whole " if kind is int else ""
            raise argparse.ArgumentTypeError(f"must be a positive {whole}number, not {raw!r}")
        return value

    return parse
