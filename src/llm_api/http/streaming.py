"""A family service's answer as an HTTP response: a model, a dumped body, or SSE frames."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.responses import JSONResponse, Response, StreamingResponse

from llm_api.sse import Frames

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # ask proxies not to buffer the stream
}

Model = TypeVar("Model", bound=BaseModel)

#: ``JSONResponse.render``'s encoder, built once: ``json.dumps`` with arguments builds a
#: new one per call, CPU on every answer under Pyodide (bench/README.md §4)
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


class DumpedJSON(JSONResponse):
    """A ``JSONResponse`` with the same bytes, from an encoder built once."""

    def render(self, content: Any) -> bytes:
        return _JSON.encode(content).encode("utf-8")


def sse_response(frames: Frames, headers: dict[str, str]) -> StreamingResponse:
    return StreamingResponse(
        frames, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
    )


def answer(result: Model | dict[str, Any] | Frames, headers: dict[str, str]) -> Model | Response:
    """A model as is (FastAPI serialises it; ``BackendHeaders`` has set ``headers``); a
    dict as it was dumped (the chat.completion shape: FastAPI's response_model pass would
    add ``tool_calls: null`` to a message without calls); frames as an event stream."""
    if isinstance(result, BaseModel):
        return result
    if isinstance(result, dict):
        return DumpedJSON(result, headers=headers)
    return sse_response(result, headers)
