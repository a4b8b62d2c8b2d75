"""Render every failure — ours, validation, routing, unexpected — in the family envelope."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_api.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    error_headers,
    family_for_path,
    public_error,
)

logger = logging.getLogger("llm_api")

#: at most this many validation problems are listed in one message
MAX_LISTED_PROBLEMS = 3


def error_response(request: Request, error: ApiError) -> JSONResponse:
    return render_error(request.url.path, error, request_id=request_id_of(request.scope))


def request_id_of(scope: Any) -> str | None:
    return scope.get("state", {}).get("request_id")


def render_error(
    path: str,
    error: ApiError,
    headers: dict[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> JSONResponse:
    """``error`` in the envelope of the family ``path`` belongs to: the one place errors
    become responses, for handlers and pure ASGI middleware alike."""
    family = family_for_path(path)
    error = public_error(error, request_id)
    return JSONResponse(
        family.body(error),
        status_code=family.status(error),
        headers={**(headers or {}), **error_headers(error)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, validation_problem(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        route = f"{request.method} {request.url.path}"
        error: ApiError
        if exc.status_code == 404:
            error = RouteNotFound(f"No such route: {route}")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"Method not allowed: {route}")
        elif exc.status_code == 413:
            error = PayloadTooLarge(str(exc.detail))
        else:
            error = ApiError(str(exc.detail), status=exc.status_code)
        response = error_response(request, error)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "")
        logger.exception(
            "unhandled error in %s %s (%s)", request.method, request.url.path, request_id
        )
        error = ApiError(f"Internal error; quote request id {request_id} when reporting it")
        response = error_response(request, error)
        if request_id:
            # ServerErrorMiddleware sits outside RequestIdMiddleware, so add it here.
            response.headers["x-request-id"] = request_id
        return response


def validation_problem(errors: list[dict[str, Any]] | Any) -> InvalidRequest:
    """One 400 naming the fields and the rules they broke, with the OpenAI ``code`` of
    the first (rendered by the /v1 family only)."""
    problems: list[str] = []
    first_field: str | None = None
    first_code: str | None = None
    for error in list(errors):
        kind = error.get("type", "")
        location = _field_path(error.get("loc", ()))
        if kind == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "")
            return InvalidRequest(f"Request body is not valid JSON: {detail}".rstrip(": "))
        if kind == "missing" and not location:
            return InvalidRequest("A JSON request body is required")
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        if kind == "model_attributes_type" and not location:
            return InvalidRequest("The request body must be a JSON object")
        if first_field is None:
            first_field, first_code = location or None, openai_code(error)
        text = f"{location}: {message}" if location else message
        if text not in problems:
            problems.append(text)
    listed = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        listed += f" (and {len(problems) - MAX_LISTED_PROBLEMS} more)"
    problem = InvalidRequest(listed or "Invalid request", param=first_field)
    problem.openai_code = first_code
    return problem


#: pydantic's error types as the codes OpenAI answers for the same fault
#: (``invalid_type``: "Invalid type for 'max_tokens': expected an integer ...")
_CODES = {
    "missing": "missing_required_parameter",
    "union_tag_not_found": "missing_required_parameter",  # a content part without `type`
    "literal_error": "invalid_value",
    "enum": "invalid_value",
    "union_tag_invalid": "invalid_value",
    "too_long": "array_above_max_length",
    "string_too_long": "string_above_max_length",
    "string_too_short": "string_below_min_length",
}
#: a broken bound: OpenAI's code names the field's kind, which the bound's type tells
#: (the /v1 schemas give float fields float bounds)
_BOUNDS = {
    "less_than_equal": "above_max_value",
    "less_than": "above_max_value",
    "greater_than_equal": "below_min_value",
    "greater_than": "below_min_value",
}


def openai_code(error: dict[str, Any]) -> str | None:
    """OpenAI's ``code`` for one pydantic error, where OpenAI has one."""
    kind = str(error.get("type", ""))
    if kind in _BOUNDS:
        bound = next(iter((error.get("ctx") or {}).values()), None)
        return ("decimal_" if isinstance(bound, float) else "integer_") + _BOUNDS[kind]
    if kind == "too_short":  # OpenAI: "empty array. Expected an array with minimum length"
        empty = (error.get("ctx") or {}).get("actual_length") == 0
        return "empty_array" if empty else "array_below_min_length"
    if kind.endswith("_type") or kind in ("int_from_float", "model_attributes_type"):
        return "invalid_type"
    return _CODES.get(kind)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and ("[" in part or "(" in part or "-" in part):
            continue  # pydantic's union-branch labels, e.g. "literal['auto','none']"
        else:
            path += f".{part}" if path else str(part)
    return path
