"""The error answers in /openapi.json are the ones the app really sends.

Every error the app can raise renders in each family (``Family.body`` fills the very
model the document shows), and every operation documents its errors in its own family's
envelope, never FastAPI's 422 (validation errors are 400s here).
"""

from __future__ import annotations

from typing import Any

import pytest

from llm_api.app import create_app
from llm_api.binding.protocol import fixed_platform
from llm_api.errors import FAMILIES, ApiError, Family, family_for_path


def every_error_class(base: type[ApiError] = ApiError) -> list[type[ApiError]]:
    found = [base]
    for sub in base.__subclasses__():
        found += every_error_class(sub)
    return found


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.name)
@pytest.mark.parametrize("error_class", every_error_class(), ids=lambda cls: cls.__name__)
def test_every_error_class_renders_in_every_family(
    error_class: type[ApiError], family: Family
) -> None:
    # A code the envelope model does not list fails here, not in a client's answer.
    body = family.body(error_class("Something went wrong", param="messages", retry_after=1.5))
    assert "Something went wrong" in str(body["error"])


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
        envelope = family_for_path(path).envelope.__name__
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
