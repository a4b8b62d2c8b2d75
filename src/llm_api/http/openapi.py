"""What the OpenAPI document says beyond the models: each route's error answers, and
the event streams of the generation routes.

Routers pass ``error_responses(family, *statuses)`` as ``responses=``: each status is
documented with the family's envelope. Every one also gets a ``4XX`` entry for the rare
client errors not listed (405, say) — and because of it FastAPI leaves out the 422 it
documents by default, which this API never sends (validation errors are 400s).
"""

from __future__ import annotations

from typing import Any

from llm_api.errors import Family

#: every route behind a key: refused key, rate limit, internal error, and 503 when the
#: key store or the rate limiter is down (refused, retryably)
PROTECTED = (401, 429, 500, 503)
#: routes with a JSON body: checked for size, media type and encoding before routing
JSON_BODY = (400, 413, 415)
#: routes that call the model: the key's model permission and the backend's faults;
#: the backend's daily quota is a 429, an unknown model a 404 (400 on the native API) and a
#: model Workers AI no longer serves a 410
GENERATION = (*JSON_BODY, 403, 410, 502, 503, 504)

_RETRY_AFTER = {
    "retry-after": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}

DESCRIPTIONS = {
    400: "Invalid request: malformed JSON, a field that breaks its rule, an unknown "
    "model on the native API, or a prompt too long for the model",
    401: "Missing or invalid API key (or admin token)",
    403: "This API key may not use the requested model, or the model needs a Workers Paid plan",
    404: "Not found: an unknown model, key or stored response",
    410: "The model was retired by Workers AI; the message names the model to use instead",
    413: "Request body too large",
    415: "Request body is not JSON",
    429: "Rate limit of this key reached (see Retry-After), or the backend's quota used up",
    500: "Internal error; quote the x-request-id header when reporting it",
    502: "The model backend failed, or its answer was not in the requested shape",
    503: "The model backend, the key store or the rate limiter is busy or down; retryable",
    504: "The model backend took too long",
}


def error_responses(family: Family, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: ``statuses`` in ``family``'s envelope."""
    model = family.envelope
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": model, "description": DESCRIPTIONS[status]}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        responses[status] = entry
    responses["4XX"] = {"model": model, "description": "Any other client error"}
    return responses


#: the 200 of the native generation routes (`stream: true` answers with events)
NATIVE_STREAM_DOC = {
    200: {
        "description": "JSON, or with `stream: true` server-sent events: "
        '`data: {"response": "<delta>"}` per token, a final event with `usage` '
        "(and `tool_calls`), then `data: [DONE]`.",
        "content": {"text/event-stream": {}},
    }
}
#: the 200 of the routes answering in OpenAI's shape (the OpenAI and v1 families)
COMPLETION_STREAM_DOC = {
    200: {
        "description": "A `chat.completion`, or with `stream: true` server-sent "
        "`chat.completion.chunk` events ending with `data: [DONE]`.",
        "content": {"text/event-stream": {}},
    }
}
#: the 200 of `POST /v1/responses`
RESPONSE_STREAM_DOC = {
    200: {
        "description": "A `response` object, or with `stream: true` server-sent typed events "
        "(`event: response.created` ... `event: response.completed`), each with a "
        "`sequence_number`.",
        "content": {"text/event-stream": {}},
    }
}
