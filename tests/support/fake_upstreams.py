"""Real HTTP servers that answer like Workers AI's REST API and an OpenAI-compatible server.

Each runs uvicorn on 127.0.0.1 (a free port) in a background thread::

    with workers_ai_upstream() as fake:        # or openai_upstream(api_key=...)
        backend = WorkersAIRestBackend(fake.account_id, fake.token, base_url=fake.base_url)

or in the foreground, for e2e runs: ``python -m tests.support.fake_upstreams openai --port 8001``.

They are scripted by words in the prompt (or the last user message), so a test says what
it wants in the request itself:

* both: ``tool`` (one tool call), ``twotools`` (two, interleaved when streamed), ``json``
  (a JSON answer), ``slow`` (``slow_seconds`` before answering), ``gated`` (stream one
  piece, then wait for ``fake.state.release(text)``), ``endless`` (stream until the
  client goes away).
* Workers AI error bodies as documented: ``fixture<key>`` answers the entry ``<key>`` of
  ``fixtures/workers_ai/errors-rest.json`` (``fixture5028_retired``, ``fixtureno_code_404_route``).
* Workers AI errors: ``capacity`` 3040, ``quota`` 3036, ``nomodel`` 5007, ``badmodel``
  3042, ``toolarge`` 3006, ``upstreamtimeout`` 3007, ``internal`` (unknown code 3043),
  ``htmlerror`` (a 502 HTML page, no code); ``nodone`` ends a stream without ``[DONE]``.
* OpenAI errors: ``nomodel`` 404, ``ratelimit`` 429 with Retry-After, ``servererror`` 500
  in plain text, ``badrequest`` 400 (vLLM's envelope), ``unavailable`` 503 (Ollama's);
  ``midstream`` sends an error event after the first piece, ``noend`` drops the stream
  before it finishes, ``badargs`` sends tool arguments that are not JSON, ``unicode``
  splits its frames inside UTF-8 characters.

Models in ``CHAT_COMPLETIONS_MODELS`` answer in the Chat Completions shape, from the
documented fixtures (tests/support/fixtures/workers_ai/): ``chat.completion`` whole,
``chat.completion.chunk`` streamed (``tool`` for the tool-call fixtures); gpt-oss answers a
stream request with JSON, as workers-ai-provider 3.1.1 saw it do.

``fake.state`` records every request and how each stream ended (``outcomes[text]`` is
``"completed"`` or ``"disconnected"``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.responses import StreamingResponse as _Streaming
from starlette.routing import Route

from tests.support.paths import WORKERS_AI_FIXTURES

REPLY = ["Hello", " from", " the", " fake", " upstream", "."]
UNICODE_REPLY = ["Grüße", " 👋", " ok"]
PIECE_DELAY = 0.01
TOOL_CALLS = [
    ("get_weather", {"city": "Paris", "unit": "celsius"}),
    ("get_time", {"timezone": "Europe/Paris"}),
]
WORKERS_AI_ERRORS = {  # word: (status, code, message), as Cloudflare sends them
    "capacity": (429, 3040, "Capacity temporarily exceeded, please try again."),
    "quota": (429, 3036, "You have used up your daily free allocation of 10,000 neurons."),
    "nomodel": (400, 5007, "No such model @cf/meta/none or task"),
    "badmodel": (400, 3042, "Invalid model ID"),
    "toolarge": (413, 3006, "Request is too large"),
    "upstreamtimeout": (408, 3007, "Request timeout"),
    "internal": (500, 3043, "Internal server error"),
}
#: word: (status, body), from the documented REST error bodies
REST_ERROR_FIXTURES = {
    f"fixture{key}": (entry["status"], entry["body"])
    for key, entry in json.loads((WORKERS_AI_FIXTURES / "errors-rest.json").read_text()).items()
    if not key.startswith("_")
}
_SCENARIOS = (
    *REST_ERROR_FIXTURES,  # first: "fixture3040_no_capacity" also holds "capacity"
    *WORKERS_AI_ERRORS,
    "htmlerror",
    "ratelimit",
    "servererror",
    "badrequest",
    "unavailable",
    "midstream",
    "noend",
    "nodone",
    "badargs",
    "unicode",
    "twotools",
    "tool",
    "json",
    "slow",
    "gated",
    "endless",
)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class UpstreamState:
    token: str | None = None
    slow_seconds: float = 2.0
    piece_delay: float = PIECE_DELAY  # between streamed pieces
    requests: list[RecordedRequest] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    #: what ``GET /ai/models/search`` lists (raw entries), paged by ``per_page``/``page``
    model_listing: list[dict[str, Any]] = field(default_factory=list)
    model_searches: list[dict[str, str]] = field(default_factory=list)
    _gates: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def gate(self, key: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(key, threading.Event())

    def release(self, key: str) -> None:
        self.gate(key).set()

    async def wait_gate(self, key: str, limit: float = 5.0) -> None:
        gate, deadline = self.gate(key), time.monotonic() + limit
        # polled: the test thread sets it, and an asyncio.Event is not thread-safe
        while not gate.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def authorised(self, request: Request) -> bool:
        return self.token is None or request.headers.get("authorization") == f"Bearer {self.token}"


class FakeUpstream:
    """A uvicorn server for ``app`` in a daemon thread; a context manager."""

    def __init__(self, app: Starlette, state: UpstreamState) -> None:
        self.app, self.state, self.port = app, state, 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            http="h11",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake upstream did not start")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeWorkersAI(FakeUpstream):
    account_id = "acct-123"

    @property
    def token(self) -> str:
        return self.state.token or ""

    @property
    def base_url(self) -> str:
        return f"{self.url}/client/v4"

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/v1"


class FakeOpenAI(FakeUpstream):
    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


def workers_ai_upstream(*, token: str = "test-token") -> FakeWorkersAI:
    state = UpstreamState(token=token)
    return FakeWorkersAI(workers_ai_app(state), state)


def openai_upstream(*, api_key: str | None = None) -> FakeOpenAI:
    state = UpstreamState(token=api_key)
    return FakeOpenAI(openai_app(state), state)


# ---- what both share --------------------------------------------------------------


def sse(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def user_text(body: dict[str, Any]) -> str:
    if isinstance(body.get("prompt"), str):
        return body["prompt"]
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def scenario(text: str) -> str | None:
    words = text.lower()
    return next((name for name in _SCENARIOS if name in words), None)


def reply_for(name: str | None) -> list[str]:
    return UNICODE_REPLY if name == "unicode" else REPLY


def calls_for(name: str | None) -> list[tuple[str, dict[str, Any]]]:
    return TOOL_CALLS if name == "twotools" else TOOL_CALLS[:1]


def usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    texts = [body.get("prompt") or ""] + [
        m.get("content") for m in body.get("messages") or [] if isinstance(m.get("content"), str)
    ]
    prompt = sum(len(text.split()) for text in texts)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _record(state: UpstreamState, request: Request) -> dict[str, Any]:
    body = await request.json()
    state.requests.append(RecordedRequest(request.url.path, dict(request.headers), body))
    return body


def _tracked(state: UpstreamState, key: str, frames: AsyncIterator[bytes]) -> Response:
    async def stream() -> AsyncIterator[bytes]:
        finished = False
        try:
            async for frame in frames:
                yield frame
            finished = True
        finally:
            state.outcomes[key] = "completed" if finished else "disconnected"

    return _Streaming(stream(), media_type="text/event-stream")


async def _endless(frame: bytes) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        yield frame
        await asyncio.sleep(0.02)


# ---- Workers AI REST --------------------------------------------------------------


#: models of the Chat Completions shape [M-glm][M-gemma][M-kimi]; gpt-oss via ``messages``
CHAT_COMPLETIONS_MODELS = {
    "@cf/zai-org/glm-4.7-flash",
    "@cf/google/gemma-4-26b-a4b-it",
    "@cf/moonshotai/kimi-k2.6",
    "@cf/openai/gpt-oss-120b",
}
#: models whose ``stream: true`` gets a JSON body ([WP-CL] 3.1.1)
STREAMLESS_MODELS = {"@cf/openai/gpt-oss-120b", "@cf/moonshotai/kimi-k2.6"}


def _fixture(name: str) -> bytes:
    from tests.support.paths import WORKERS_AI_FIXTURES

    return (WORKERS_AI_FIXTURES / name).read_bytes()


def _chat_completions(model: str, body: dict[str, Any], name: str | None) -> Response:
    if "max_tokens" in body or "prompt" in body:  # what this shape's schema deprecates
        return _wa_error(400, 5006, "AiError: Bad input: Error: legacy field in a chat request")
    if body.get("stream") and model not in STREAMLESS_MODELS:
        fixture = "chat-stream-tools.sse" if name == "tool" else "chat-stream-text.sse"
        data = _fixture(fixture)
        chunks = [data[i : i + 64] for i in range(0, len(data), 64)]

        async def frames() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return _Streaming(frames(), media_type="text/event-stream")
    if model == "@cf/openai/gpt-oss-120b":
        fixture = "gptoss-stream-true-returns-json.json"
    else:
        fixture = "chat-whole-glm-tools.json" if name == "tool" else "chat-whole-glm-text.json"
    result = json.loads(_fixture(fixture))
    if name == "json":
        result["choices"][0]["message"]["content"] = json.dumps({"answer": 42})
    return JSONResponse({"result": result, "success": True, "errors": [], "messages": []})


def workers_ai_app(state: UpstreamState) -> Starlette:
    async def run(request: Request) -> Response:
        body = await _record(state, request)
        if not state.authorised(request):
            return _wa_error(401, 10000, "Authentication error")
        text = user_text(body)
        name = scenario(text)
        if name in WORKERS_AI_ERRORS:
            return _wa_error(*WORKERS_AI_ERRORS[name])
        if name in REST_ERROR_FIXTURES:
            status, error_body = REST_ERROR_FIXTURES[name]
            return JSONResponse(error_body, status_code=status)
        model = request.path_params["model"]
        if model in CHAT_COMPLETIONS_MODELS:
            return _chat_completions(model, body, name)
        if name == "htmlerror":
            return HTMLResponse("<html><body>502 Bad Gateway</body></html>", status_code=502)
        if name == "slow":
            await asyncio.sleep(state.slow_seconds)
        if body.get("stream"):
            return _tracked(state, text, _wa_frames(state, body, text, name))
        result: dict[str, Any] = {"response": "".join(REPLY), "usage": usage(body, len(REPLY))}
        if name == "json":
            result["response"] = {"answer": 42}
        if name in ("tool", "twotools"):
            result["response"] = ""
            result["tool_calls"] = [{"name": n, "arguments": a} for n, a in calls_for(name)]
        return JSONResponse({"result": result, "success": True, "errors": [], "messages": []})

    async def search(request: Request) -> Response:
        # GET /accounts/{id}/ai/models/search [API]: the v4 envelope, `result` one page
        query = dict(request.query_params)
        state.model_searches.append(query)
        if not state.authorised(request):
            return _wa_error(401, 10000, "Authentication error")
        per_page, page = int(query.get("per_page", "20")), int(query.get("page", "1"))
        entries = [
            entry
            for entry in state.model_listing
            if "task" not in query or entry.get("task", {}).get("name") == query["task"]
        ]
        result = entries[(page - 1) * per_page : page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(result)}
        body = {"success": True, "errors": [], "messages": [], "result": result}
        return JSONResponse({**body, "result_info": info})

    return Starlette(
        routes=[
            Route("/client/v4/accounts/{account}/ai/models/search", search, methods=["GET"]),
            Route("/client/v4/accounts/{account}/ai/run/{model:path}", run, methods=["POST"]),
            Route("/v1/{account}/{gateway}/workers-ai/{model:path}", run, methods=["POST"]),
        ]
    )


def _wa_error(status: int, code: int, message: str) -> Response:
    body = {"result": None, "success": False, "errors": [{"code": code, "message": message}]}
    return JSONResponse({**body, "messages": []}, status_code=status)


async def _wa_frames(
    state: UpstreamState, body: dict[str, Any], text: str, name: str | None
) -> AsyncIterator[bytes]:
    if name == "endless":
        async for frame in _endless(sse({"response": "more"})):
            yield frame
        return
    for index, piece in enumerate(REPLY):
        yield sse({"response": piece, "p": "abcdef"[: index + 1]})
        if name == "gated" and index == 0:
            await state.wait_gate(text)
        await asyncio.sleep(state.piece_delay)
    final: dict[str, Any] = {"response": "", "usage": usage(body, len(REPLY))}
    if name in ("tool", "twotools"):
        final["tool_calls"] = [{"name": n, "arguments": a} for n, a in calls_for(name)]
    if name == "nodone":
        yield b"data: " + json.dumps(final).encode()  # no blank line, no [DONE]
        return
    yield sse(final)
    yield b"data: [DONE]\n\n"


# ---- OpenAI chat completions ------------------------------------------------------


def openai_app(state: UpstreamState) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await _record(state, request)
        if not state.authorised(request):
            return _oa_error(401, "Incorrect API key provided.", "invalid_request_error")
        text = user_text(body)
        name = scenario(text)
        if name == "nomodel" or body.get("model") == "missing-model":
            message = f"The model `{body.get('model')}` does not exist."
            return _oa_error(404, message, "invalid_request_error", "model_not_found")
        if name == "ratelimit":
            response = _oa_error(429, "Rate limit reached for requests", "rate_limit_error")
            response.headers["retry-after"] = "7"
            return response
        if name == "servererror":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if name == "badrequest":
            message = "max_tokens must be at least 1, got -1."
            return JSONResponse({"object": "error", "message": message, "code": 400}, 400)
        if name == "unavailable":
            return JSONResponse({"error": "model is loading"}, status_code=503)
        if name == "slow":
            await asyncio.sleep(state.slow_seconds)
        if body.get("stream"):
            return _tracked(state, text, _oa_frames(state, body, text, name))
        return JSONResponse(_completion(body, name))

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _oa_error(status: int, message: str, kind: str, code: str | None = None) -> Response:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)


def _pieces(body: dict[str, Any], name: str | None) -> tuple[list[str], str]:
    pieces = reply_for(name)
    limit = body.get("max_tokens")
    if isinstance(limit, int) and 0 < limit < len(pieces):
        return pieces[:limit], "length"
    return pieces, "stop"


def _arguments(name: str | None, arguments: dict[str, Any]) -> str:
    return '{"city": "Par' if name == "badargs" else json.dumps(arguments)


def _completion(body: dict[str, Any], name: str | None) -> dict[str, Any]:
    pieces, finish = _pieces(body, name)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces)}
    if name == "json":
        message["content"] = json.dumps({"answer": 42})
    if name in ("tool", "twotools", "badargs"):
        pieces, message["content"], finish = [], None, "tool_calls"
        message["tool_calls"] = []
        for index, (tool, arguments) in enumerate(calls_for(name)):
            function = {"name": tool, "arguments": _arguments(name, arguments)}
            message["tool_calls"].append(
                {"id": f"call_{index}", "type": "function", "function": function}
            )
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage(body, len(pieces)),
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    return sse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": body.get("model"),
            "choices": [choice],
        }
    )


def _tool_deltas(name: str | None) -> list[dict[str, Any]]:
    """Each call's id and name first, then its arguments in fragments; calls interleaved."""
    starts, fragments = [], []
    for index, (tool, arguments) in enumerate(calls_for(name)):
        function = {"name": tool, "arguments": ""}
        starts.append(
            {"index": index, "id": f"call_{index}", "type": "function", "function": function}
        )
        text = _arguments(name, arguments)
        cut = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
        fragments.append([text[a:b] for a, b in itertools.pairwise(cut)])
    deltas = [{"tool_calls": [start]} for start in starts]
    for step in range(3):
        for index, parts in enumerate(fragments):
            deltas.append(
                {"tool_calls": [{"index": index, "function": {"arguments": parts[step]}}]}
            )
    return deltas


async def _oa_frames(
    state: UpstreamState, body: dict[str, Any], text: str, name: str | None
) -> AsyncIterator[bytes]:
    yield _chunk(body, {"role": "assistant", "content": ""})
    if name == "endless":
        async for frame in _endless(_chunk(body, {"content": "more"})):
            yield frame
        return
    pieces, finish = _pieces(body, name)
    if name in ("tool", "twotools", "badargs"):
        pieces, finish = [], "tool_calls"
        for delta in _tool_deltas(name):
            yield _chunk(body, delta)
            await asyncio.sleep(state.piece_delay)
    for index, piece in enumerate(pieces):
        frame = _chunk(body, {"content": piece})
        if name == "unicode":  # cut the frame's bytes every 3 bytes, inside characters too
            for start in range(0, len(frame), 3):
                yield frame[start : start + 3]
        else:
            yield frame
        if name == "midstream" and index == 0:
            yield sse(
                {"error": {"message": "CUDA out of memory", "type": "server_error", "code": 500}}
            )
            yield b"data: [DONE]\n\n"
            return
        if name == "gated" and index == 0:
            await state.wait_gate(text)
        await asyncio.sleep(state.piece_delay)
    if name == "noend":
        return
    yield _chunk(body, {}, finish)
    if (body.get("stream_options") or {}).get("include_usage"):
        yield sse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": body.get("model"),
                "choices": [],
                "usage": usage(body, len(pieces)),
            }
        )
    yield b"data: [DONE]\n\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_upstreams")
    parser.add_argument("kind", choices=["openai", "workers-ai"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--key", help="the bearer token clients must send (default: none)")
    args = parser.parse_args(argv)
    state = UpstreamState(token=args.key)
    app = openai_app(state) if args.kind == "openai" else workers_ai_app(state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", lifespan="off")


if __name__ == "__main__":
    main()
