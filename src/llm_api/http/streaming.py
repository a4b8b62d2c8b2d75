"""Serving a stream of service items as server-sent events, for any family."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse

from llm_api.errors import ApiError
from llm_api.http.handlers import public_error
from llm_api.services.generation import StreamItem
from llm_api.sse import DONE_FRAME

logger = logging.getLogger("llm_api")

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # ask proxies not to buffer the stream
}


def sse_response(
    items: AsyncIterator[StreamItem],
    encode: Callable[[StreamItem], bytes],
    encode_error: Callable[[ApiError], bytes],
    headers: dict[str, str],
) -> StreamingResponse:
    """Frame each item as it arrives; a failure after the start becomes one in-band
    error event, and every stream ends with ``data: [DONE]``."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for item in items:
                yield encode(item)
        except ApiError as exc:
            yield encode_error(public_error(exc))
        except Exception:
            logger.exception("stream failed after it started")
            yield encode_error(ApiError("Internal error while streaming"))
        finally:
            await items.aclose()  # type: ignore[attr-defined]
        yield DONE_FRAME

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
    )
