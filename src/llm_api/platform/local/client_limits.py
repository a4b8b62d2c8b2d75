"""The local host's limits on each client (``llm-api serve`` flags: ServeSettings).

Enforced by ``local_http``'s protocol before the app runs; see its docstring for how.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from llm_api.settings import ServeSettings


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


def limits_of(serve: ServeSettings) -> ClientLimits:
    """The limits ``llm-api serve`` was given (its flags and variables: ServeSettings)."""
    return ClientLimits(
        **{field.name: getattr(serve, field.name) for field in fields(ClientLimits)}
    )
