"""`llm-api serve --backend openai` in front of a hostile upstream on loopback (issue 12).

The upstream is tests/hostile_upstream.py (raw sockets, its gzip bombs inflating to
1 GiB). Each case checks what a client of every API family sees — a 502 in the family's
envelope before the first byte, an in-band error frame and ``data: [DONE]`` after it —
and that the server survives it: alive, its peak RSS over the case within
``RSS_GROWTH_BOUND_MB`` (``/proc/<pid>/status`` VmHWM, reset through ``clear_refs``
before each case), ``/health`` answering quickly while a hostile stream is in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_api.schemas.errors import NativeError, OpenAIError, V1Error
from tests.e2e.server import Server, running_server
from tests.support.hostile_upstream import HostileUpstream, gzip_of, hostile_upstream

#: peak RSS growth of the server over one hostile case; the old client grew 1-3 GB
RSS_GROWTH_BOUND_MB = 60
RSS_BOUND_MB = 200  # the server's RSS after every case (it starts at about 70 MB)
HEALTH_BOUND_S = 0.5  # the slowest /health answer while a hostile stream is being cut
MODEL = "llama-3.2-3b-instruct"

ROUTES = [  # family, path, field
    ("openai", "/v1/chat/completions", "messages"),
    ("v1", "/api/v1/llm/chat", "messages"),
    ("native", "/api/llm/chat/completions", "messages"),
    ("native", "/api/llm/generate", "prompt"),
]
ENVELOPES = {"openai": OpenAIError, "v1": V1Error, "native": NativeError}

#: broken before the first byte, whole or streamed: every family answers 502
BROKEN = ["negativelength", "hugelength", "pluslength", "underscorelength", "hexchunk",
          "endlessheader"]  # fmt: skip
#: a whole answer without end, or a gzip bomb: 502. (Streamed, these are one endless SSE
#: line: streaming.py's line cap, not the transport's.)
TOO_LARGE = ["endlessbody", "gzipbomb"]
#: broken after the first token: 200, the token, an error frame, [DONE]
STREAMED = ["gzipbombstream", "endlessstream"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    with hostile_upstream() as server:
        gzip_of(b"A", server.state.bomb_bytes)  # 1 GiB inflated: made before the server runs
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: HostileUpstream) -> Iterator[Server]:
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_MODEL": "hostile-model"}
    with running_server(["--backend", "openai"], env) as server:
        yield server


@pytest.fixture(scope="module")
def http(gateway: Server) -> Iterator[httpx.Client]:
    auth = {"authorization": f"Bearer {gateway.key}"}
    with httpx.Client(base_url=gateway.url, headers=auth, timeout=60) as client:
        yield client


def status_of(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def mb(value: str) -> float:
    return int(value.split()[0]) / 1024


class Watched:
    """The server's RSS over a block: before, and the peak within it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> Watched:
        self.before = mb(status_of(self.pid)["VmRSS"])
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        return self

    def __exit__(self, *exc_info: object) -> None:
        status = status_of(self.pid)
        self.peak = mb(status["VmHWM"])
        self.alive = not status["State"].startswith(("Z", "X"))

    @property
    def growth(self) -> float:
        return self.peak - self.before


def body_for(field: str, word: str, *, stream: bool) -> dict[str, Any]:
    text = f"please {word}"
    content: Any = text if field == "prompt" else [{"role": "user", "content": text}]
    return {"model": MODEL, field: content, "stream": stream}


def data_frames(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


@pytest.mark.parametrize("word", BROKEN + TOO_LARGE)
@pytest.mark.parametrize(("family", "path", "field"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_broken_answer_is_a_502_in_the_family_envelope(
    gateway: Server, http: httpx.Client, word: str, family: str, path: str, field: str
) -> None:
    for stream in (False, True) if word in BROKEN else (False,):
        with Watched(gateway.pid) as watched:
            started = time.monotonic()
            response = http.post(path, json=body_for(field, word, stream=stream))
            took = time.monotonic() - started
        where = f"{word} on {path} (stream={stream})"
        assert response.status_code == 502, f"{where}: {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/json"), where
        ENVELOPES[family].model_validate(response.json())
        assert watched.alive, where
        assert watched.growth < RSS_GROWTH_BOUND_MB, f"{where}: +{watched.growth:.0f} MB"
        assert took < 10, f"{where}: {took:.1f} s"


@pytest.mark.parametrize("word", STREAMED)
@pytest.mark.parametrize(("family", "path", "field"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_stream_broken_after_its_first_token_ends_with_an_error_frame(
    gateway: Server, http: httpx.Client, word: str, family: str, path: str, field: str
) -> None:
    with Watched(gateway.pid) as watched:
        response = http.post(path, json=body_for(field, word, stream=True))
    where = f"{word} on {path}"
    assert response.status_code == 200, f"{where}: {response.text[:300]}"
    frames = data_frames(response.text)
    assert frames[-1] == "[DONE]", where
    error = json.loads(frames[-2])
    ENVELOPES[family].model_validate(error)
    assert "larger than 64 MiB" in json.dumps(error), where
    assert len(frames) >= 3, where  # the token before the failure came through
    assert watched.alive, where
    assert watched.growth < RSS_GROWTH_BOUND_MB, f"{where}: +{watched.growth:.0f} MB"


def test_health_stays_fast_while_a_hostile_stream_is_cut(
    gateway: Server, http: httpx.Client
) -> None:
    done = threading.Event()

    def hostile() -> None:
        body = body_for("messages", "gzipbombstream", stream=True)
        try:
            http.post("/v1/chat/completions", json=body)
        finally:
            done.set()

    worker = threading.Thread(target=hostile)
    worker.start()
    slowest = 0.0
    with httpx.Client(base_url=gateway.url, timeout=10) as probe:
        while not done.is_set():
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            done.wait(0.05)
    worker.join()
    assert slowest < HEALTH_BOUND_S, f"/health took {slowest * 1000:.0f} ms"


def test_a_request_the_upstream_read_then_dropped_is_sent_once(
    upstream: HostileUpstream, http: httpx.Client
) -> None:
    """Through the server's retries (2 by default): the upstream may have billed it."""
    assert http.post("/v1/chat/completions", json=body_for("messages", "fine", stream=False))
    before = upstream.state.count("readthenclose")
    response = http.post(
        "/v1/chat/completions", json=body_for("messages", "readthenclose", stream=False)
    )
    assert response.status_code == 502
    OpenAIError.model_validate(response.json())
    assert upstream.state.count("readthenclose") - before == 1


def test_stray_bytes_after_an_answer_never_answer_the_next_request(
    upstream: HostileUpstream, http: httpx.Client
) -> None:
    first = http.post("/v1/chat/completions", json=body_for("messages", "trailing", stream=False))
    assert first.json()["choices"][0]["message"]["content"] == "trailing"
    assert upstream.state.stray("trailing").wait(2)
    time.sleep(0.1)  # for the server's loop to read it (no event crosses the process)
    answers = [
        http.post("/v1/chat/completions", json=body_for("messages", "fine", stream=False)).json()[
            "choices"
        ][0]["message"]["content"]
        for _ in range(3)
    ]
    assert answers == ["fine"] * 3


def test_the_server_is_alive_and_small_after_all_of_it(gateway: Server) -> None:
    assert httpx.get(f"{gateway.url}/health", timeout=5).status_code == 200
    assert mb(status_of(gateway.pid)["VmRSS"]) < RSS_BOUND_MB
