"""What clients see of an upstream's or backend's failure (issue 12, finding 12 f).

An upstream's own words reach the client only when they are its documented error text;
anything else (a 5xx body, text with server paths or a traceback) becomes a generic
message with the request id, and the real text goes to the log.
"""

from __future__ import annotations

import logging

import pytest

from llm_api.binding.upstream_errors import from_http_status, from_workers_ai_message
from llm_api.errors import BackendBusy, BackendError, InvalidRequest, ModelNotFound
from tests.support.sse import sse_data

TRACEBACK = (
    'Traceback (most recent call last):\n  File "/srv/vllm/entrypoints/api.py", line 88, '
    "in create\nRuntimeError: CUDA out of memory"
)
PATH_TEXT = "[Errno 2] No such file or directory: '/models/llama/config.json'"
ROUTES = {
    "native": ("/api/llm/generate", {"prompt": "hi"}),
    "v1": ("/api/v1/llm/chat", {"messages": [{"role": "user", "content": "hi"}]}),
    "openai": (
        "/v1/chat/completions",
        {"model": "llama-3-8b-instruct", "messages": [{"role": "user", "content": "hi"}]},
    ),
}


def message_of(family: str, body: dict) -> str:
    return body["error"] if family == "native" else body["error"]["message"]


@pytest.mark.parametrize("family", ROUTES)
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (from_http_status(500, TRACEBACK), 502),
        (from_http_status(503, PATH_TEXT), 503),
        (from_http_status(400, PATH_TEXT), 400),
        (from_workers_ai_message(f"AiError: {PATH_TEXT}"), 502),  # no code: not documented
        (from_workers_ai_message(f"3040: {PATH_TEXT}"), 503),
        # a backend's own message showing a path (the embedded model's file, say)
        (BackendError("llama.cpp could not load /home/me/models/smol.gguf: bad magic"), 502),
    ],
)
def test_upstream_text_with_server_insides_is_not_shown(client, ai, caplog, family, error, status):
    ai.script(raise_error=error)
    path, body = ROUTES[family]
    with caplog.at_level(logging.WARNING, logger="llm_api"):
        response = client.post(path, json=body)
    assert response.status_code == status
    message = message_of(family, response.json())
    request_id = response.headers["x-request-id"]
    for inside in ("/srv/", "/models/", "/home/", "Traceback", "CUDA", "Errno"):
        assert inside not in response.text
    assert message.endswith(f"; quote request id {request_id} when reporting it")
    logged = caplog.text
    assert request_id in logged  # the real text is in the log, with the request id
    assert any(inside in logged for inside in ("/srv/vllm", "/models/llama", "/home/me"))


@pytest.mark.parametrize(
    ("error", "kind", "shown"),
    [
        (
            from_http_status(400, "This model's maximum context length is 2048 tokens"),
            InvalidRequest,
            "upstream model server: This model's maximum context length is 2048 tokens",
        ),
        (
            from_http_status(404, "The model `gpt-9` does not exist"),
            ModelNotFound,
            "upstream model server: The model `gpt-9` does not exist",
        ),
        (
            from_workers_ai_message("3040: Capacity temporarily exceeded, please try again."),
            BackendBusy,
            "Workers AI: Capacity temporarily exceeded, please try again.",
        ),
        (
            from_http_status(
                429,
                "You exceeded your current quota; read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            ),
            BackendBusy,
            "upstream model server: You exceeded your current quota; read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        ),
    ],
)
def test_documented_upstream_error_text_is_passed_on(client, ai, error, kind, shown):
    assert isinstance(error, kind) and error.detail is None
    ai.script(raise_error=error)
    response = client.post("/v1/chat/completions", json=ROUTES["openai"][1])
    assert response.json()["error"]["message"] == shown


def test_a_5xx_body_is_never_shown_even_without_paths(client, ai):
    ai.script(raise_error=from_http_status(500, "internal scheduler state: 7 queued"))
    path, body = ROUTES["native"]
    response = client.post(path, json=body)
    assert response.status_code == 502
    assert "scheduler" not in response.text
    assert response.json()["error"].startswith("the upstream model server answered 500")


def test_an_in_band_stream_error_with_server_insides_is_generic(client, ai):
    ai.script(text="one two three", fail_after_pieces=1, stream_error=BackendError(TRACEBACK))
    response = client.post("/api/llm/generate", json={"prompt": "hi", "stream": True})
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2] == {"error": "The model backend failed"}
    assert "/srv/" not in response.text
