"""What ``llm-api serve`` does and says while it starts, for someone running it the first time.

It takes the port before anything else (a busy one is one plain line, before any model load
or state change), and once it serves it ends its output with what a newcomer needs: the
playground URL, the development key on a first start, and a ``curl`` line that works as
printed. Local host only: the Worker never imports this module.
"""

from __future__ import annotations

import errno
import shlex
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

PORT_HINT = "--port or LLM_API_PORT"
#: uvicorn's default listen backlog
BACKLOG = 2048
#: the one request the banner's curl line sends: short, so the embedded model answers at once
CURL_BODY = '{"prompt": "Say hello in Spanish.", "max_tokens": 30}'


class PortUnavailable(Exception):
    """host:port cannot be listened on; ``str()`` is one line for the terminal."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, made as uvicorn's ``Config.bind_socket`` makes it
    (SO_REUSEADDR) and later handed to uvicorn. Listening at once, not only bound: Linux
    lets two SO_REUSEADDR sockets bind one port until one of them listens, so a second
    ``llm-api serve`` started during our model load is refused here, not after its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        sock.close()
        raise PortUnavailable(_unavailable(host, port, exc)) from None
    return sock


def _unavailable(host: str, port: int, exc: OSError | OverflowError) -> str:
    other = f" (e.g. --port {port + 1})" if 0 < port < 65535 else ""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"llm-api: port {port} on {host} is already in use (another llm-api serve?); "
            f"choose another with {PORT_HINT}{other}"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    reason = reason.removeprefix("bind(): ").rstrip(".")
    return (
        f"llm-api: cannot listen on {host} port {port}: {reason}; "
        f"change the port with {PORT_HINT}{other}, the address with --host or LLM_API_HOST"
    )


def browsable_url(sock: socket.socket) -> str:
    """The base URL a browser or curl on this machine reaches the socket at: a wildcard
    address (0.0.0.0, ::) is no address to connect to, so it becomes loopback."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def curl_line(base_url: str, key: str | None) -> str:
    """One shell line that generates text; with no key known, ``$KEY`` (double quotes, so
    the shell expands it)."""
    auth = shlex.quote(f"authorization: Bearer {key}") if key else '"authorization: Bearer $KEY"'
    return (
        f"curl -s {base_url}/api/llm/generate -H {auth} "
        f"-H 'content-type: application/json' -d {shlex.quote(CURL_BODY)}"
    )


def self_command() -> str:
    """How this process was started, for the banner's ``keys create`` hint: the
    ``llm-api`` script as typed (``.venv/bin/llm-api`` under ``make run``) or ``-m``."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "llm-api":
        return shlex.quote(argv0)
    return f"{shlex.quote(sys.executable)} -m llm_api.cli"


@dataclass(frozen=True)
class Banner:
    """The start-up banner: printed once, as the last thing on screen."""

    base_url: str
    engine: str
    playground: bool
    state_dir: Path
    dev_key: str | None  # only on the first start, when it was just created

    def text(self) -> str:
        base = self.base_url
        if self.playground:
            rows = [("Playground", f"{base}/")]
        else:
            rows = [("API docs", f"{base}/docs (no playground: --static-dir is '')")]
        if self.dev_key:
            kept = f"new on this first start, shown only now; kept hashed in {self.state_dir}"
            rows += [("Dev key", self.dev_key), ("", kept)]
        else:
            state = shlex.quote(str(self.state_dir))
            create = f"{self_command()} keys create --name me --state-dir {state}"
            rows += [
                ("API key", "the dev key printed on the first start, or a new one:"),
                ("", f"KEY=$({create} | tail -n 1)"),
            ]
        rows.append(("Try it", curl_line(base, self.dev_key)))
        rows.append(("", f"Ctrl+C stops the server; another port: {PORT_HINT}"))
        head = f"llm-api is ready on {base} (backend {self.engine})"
        return "\n".join(["", head, *(f"  {name:<11} {value}" for name, value in rows)])


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``announce`` once it listens: after uvicorn's own
    "Application startup complete", so the banner is the last start-up output."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.announce()
