"""A ``stream: true`` call answered with JSON, told apart from SSE by its first byte.

The binding returns ``res.body`` for every ``stream: true`` call, whatever its content type
(facts-14 §0.2, workerd ``ai-api.ts``), and gpt-oss (and Kimi) answer a stream request with
one JSON object (workers-ai-provider 3.1.1 / 3.0.5 "non-stream answer wrapped as a stream").
So the body is sniffed: ``{`` is a whole result (read by ``events.run_result``, which the
generation service replays as a stream), anything else is SSE, passed on untouched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from llm_api.binding.events import loads, run_result
from llm_api.binding.protocol import RunResult
from llm_api.errors import BackendError
from llm_api.sse import MAX_EVENT_BYTES

#: a whole JSON answer is one result: bounded as one SSE event is
MAX_WHOLE_BYTES = MAX_EVENT_BYTES


async def sse_or_result(
    stream: AsyncGenerator[bytes, None], *, service: str
) -> AsyncGenerator[bytes, None] | RunResult:
    """``stream`` itself (its first chunks replayed) when it is SSE; its result when JSON."""
    head: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            head.append(chunk)
            size += len(chunk)
            start = b"".join(head).lstrip()
            if start or size > MAX_WHOLE_BYTES:
                break
        start = b"".join(head).lstrip()
        if not start.startswith(b"{"):
            return _replay(head, stream)
        body = b"".join(head)
        async for chunk in stream:
            body += chunk
            if len(body) > MAX_WHOLE_BYTES:
                raise BackendError(f"{service} answered with more than {MAX_WHOLE_BYTES} bytes")
    except BaseException:
        await stream.aclose()
        raise
    await stream.aclose()
    try:
        payload = loads(body.decode())
    except (ValueError, UnicodeDecodeError):
        raise BackendError(f"{service} answered a stream request with malformed JSON") from None
    return run_result(payload, service=service)


async def _replay(
    head: list[bytes], rest: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    try:
        for chunk in head:
            yield chunk
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()
