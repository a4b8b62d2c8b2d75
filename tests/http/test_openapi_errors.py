"""The error answers in /openapi.json are the ones the app really sends.

Every error the app can raise renders, in each family, to a body its documented envelope
model accepts; and every operation documents its errors in its own family's envelope,
never FastAPI's 422 (validation errors are 400s here).
"""

from __future__ import annotations

from typing import Any

import pytest

import llm_api.routes.admin  # noqa: F401  (defines an ApiError subclass of its own)
from llm_api.app import create_app
from llm_api.binding.protocol import fixed_platform
from llm_api.errors import ApiError, Family, error_body, error_headers, family_for_path
from llm_api.http.openapi import ENVELOPES


def every_error_class(base: type[ApiError] = ApiError) -> list[type[ApiError]]:
    found = [base]
    for sub in base.__subclasses__():
        found += every_error_class(sub)
    return found


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("error_class", every_error_class(), ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    "kwargs", [{}, {"param": "messages[0].content", "retry_after": 1.5}], ids=["plain", "full"]
)
def test_every_error_renders_to_its_documented_envelope(
    error_class: type[ApiError], family: Family, kwargs: dict[str, Any]
) -> None:
    error = error_class("Something went wrong", **kwargs)
    ENVELOPES[family].model_validate(error_body(error, family), strict=True)
    if "retry_after" in kwargs:
        assert error_headers(error) == {"retry-after": "2"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(fixed_platform(None)).openapi()  # type: ignore[arg-type]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_errors_are_documented_in_each_operations_family_envelope(document) -> None:
    checked = 0
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path} documents FastAPI's 422"
        if path == "/health":
            continue  # answers without a key and without a model: no error of its own
        envelope = ENVELOPES[family_for_path(path)].__name__
        errors = {status: doc for status, doc in responses.items() if not status.startswith("2")}
        assert {"4XX", "500"} <= set(errors), f"{method} {path}: {sorted(errors)}"
        for status, doc in errors.items():
            schema = doc.get("content", {}).get("application/json", {}).get("schema", {})
            assert schema.get("$ref", "").endswith(f"/{envelope}"), f"{method} {path} {status}"
            checked += 1
    assert checked > 100


def test_protected_operations_document_refusals_and_generation_its_faults(document) -> None:
    for path, method, operation in operations(document):
        statuses = set(operation["responses"])
        if path.startswith(("/api/", "/v1/")):
            assert {"401", "429", "503"} <= statuses, f"{method} {path}"
        if method == "post" and not path.startswith("/admin"):
            assert {"400", "413", "415", "502", "504"} <= statuses, f"{method} {path}"


@pytest.mark.parametrize(
    "path",
    ["/api/llm/generate", "/api/llm/chat/completions", "/api/v1/llm/chat", "/v1/chat/completions"],
)
def test_streaming_operations_document_server_sent_events(document, path: str) -> None:
    assert "text/event-stream" in document["paths"][path]["post"]["responses"]["200"]["content"]
