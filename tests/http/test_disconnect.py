"""A client that leaves before its answer starts cancels the work behind it (issue 12, #7).

Driven over raw ASGI, so the test decides exactly when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from llm_api.app import create_app
from llm_api.binding.protocol import Platform, fixed_platform
from tests.support.scripted_ai import ScriptedAI

#: how soon the backend call must be cancelled once the client has gone
CANCELLED_WITHIN_S = 0.5


class Client:
    """One request over ASGI: its body, then (when told) its disconnect."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json.dumps(body).encode()
        self.sent_body = False
        self.gone = asyncio.Event()
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def scope(path: str, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8787),
        "state": {},
    }


async def until(condition: Any, within: float) -> None:
    """Yield to the loop until ``condition()``: the app's tasks run in between."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the state is the scripted AI's counters
            await asyncio.sleep(0)


REQUESTS = {
    "native": ("/api/llm/generate", {"prompt": "a long story"}),
    "openai": (
        "/v1/chat/completions",
        {"model": "llama-3-8b-instruct", "messages": [{"role": "user", "content": "long"}]},
    ),
    "v1": ("/api/v1/llm/chat", {"messages": [{"role": "user", "content": "long"}]}),
    "tutor": (
        "/api/llm/conversation-topics",
        {"level": "B1", "interests": ["travel"], "language": "English"},
    ),
}


@pytest.mark.parametrize("family", list(REQUESTS))
def test_a_non_streaming_request_is_cancelled_when_its_client_leaves(
    platform: Platform, ai: ScriptedAI, api_key: str, family: str
) -> None:
    ai.script(hang=True)
    app = create_app(fixed_platform(platform))
    path, body = REQUESTS[family]
    client = Client(body)

    async def run() -> None:
        handler = asyncio.create_task(app(scope(path, api_key), client.receive, client.send))
        await until(lambda: ai.hanging == 1, within=5)
        client.gone.set()
        await until(lambda: ai.cancelled == 1, within=CANCELLED_WITHIN_S)
        async with asyncio.timeout(CANCELLED_WITHIN_S):
            await handler  # the app returns quietly: nobody is left to answer
        assert not handler.cancelled()

    asyncio.run(run())
    assert client.messages == []  # nothing was sent to the client that left


def test_a_request_whose_client_stays_is_not_cancelled(
    platform: Platform, ai: ScriptedAI, api_key: str
) -> None:
    app = create_app(fixed_platform(platform))
    client = Client({"prompt": "hi"})

    async def run() -> None:
        async with asyncio.timeout(5):
            await app(scope("/api/llm/generate", api_key), client.receive, client.send)

    asyncio.run(run())
    assert client.messages[0]["status"] == 200
    assert json.loads(client.messages[1]["body"])["text"] == "echo: hi"
    assert ai.cancelled == 0


def test_a_server_shutdown_still_cancels_the_request(
    platform: Platform, ai: ScriptedAI, api_key: str
) -> None:
    """Cancellation from outside (uvicorn stopping) is not swallowed as a disconnect."""
    ai.script(hang=True)
    app = create_app(fixed_platform(platform))
    client = Client({"prompt": "x"})

    async def run() -> None:
        handler = asyncio.create_task(
            app(scope("/api/llm/generate", api_key), client.receive, client.send)
        )
        await until(lambda: ai.hanging == 1, within=5)
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler

    asyncio.run(run())
    assert ai.cancelled == 1
