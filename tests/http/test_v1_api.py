"""The REST v1 family (/api/v1/llm) over ASGI."""

from __future__ import annotations

import json

import pytest

from llm_api.errors import BackendBusy
from tests.support.sse import sse_data

IMAGE_CUES = {
    "subject": "an elegant tabby cat on a carved vintage wooden chair",
    "composition": "centered medium shot",
    "lighting": "soft window light",
    "lens": "85mm lens, shallow depth of field",
}
VIDEO_CUES = {
    "subject": "waves rolling onto a quiet beach at dawn",
    "motion": "gentle waves wash in and out",
    "camera": "slow aerial dolly forward",
    "duration_seconds": 8,
}


def test_chat_answers_chat_completion_with_configured_default_model(client, ai):
    response = client.post(
        "/api/v1/llm/chat", json={"messages": [{"role": "user", "content": "What is AI?"}]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "@cf/meta/llama-4-scout-17b-16e-instruct"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "echo: What is AI?",
        "refusal": None,
    }
    assert ai.calls[0]["inputs"]["temperature"] == 0.7


def test_chat_streams_openai_chunks_with_usage(client):
    response = client.post(
        "/api/v1/llm/chat",
        json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    assert events[0]["object"] == "chat.completion.chunk"
    assert events[-2]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5}, "temperature"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ],
)
def test_validation_errors_use_the_seed_envelope(client, payload, field):
    response = client.post("/api/v1/llm/chat", json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {"retryable": False, "field": field}
    assert error["message"].startswith(field)


def test_backend_fault_is_a_retryable_service_error(client, ai):
    ai.script(raise_error=BackendBusy("Workers AI: capacity", retry_after=2))
    response = client.post(
        "/api/v1/llm/chat", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "SERVICE_ERROR",
        "message": "Workers AI: capacity",
        "details": {"retryable": True, "retry_after": 2},
    }


def test_unknown_route_is_not_found_in_the_seed_envelope(client):
    response = client.get("/api/v1/llm/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_optimize_image_prompt_assembles_model_cues(client, ai):
    ai.script(text=json.dumps(IMAGE_CUES))
    response = client.post(
        "/api/v1/llm/optimize-prompt",
        json={"prompt": "A cat sitting on a chair", "type": "image", "style": "photorealistic"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["original_prompt"] == "A cat sitting on a chair"
    assert body["optimized_prompt"] == (
        "photorealistic style, an elegant tabby cat on a carved vintage wooden chair, "
        "centered medium shot, soft window light, 85mm lens, shallow depth of field"
    )
    assert "Added lighting: soft window light" in body["improvements"]
    call = ai.calls[0]
    assert call["model"] == "@cf/meta/llama-4-scout-17b-16e-instruct"
    assert call["inputs"]["response_format"]["type"] == "json_schema"
    assert "lens" in call["inputs"]["response_format"]["json_schema"]["properties"]
    # the user's prompt is fenced as a JSON string, as data
    assert '"A cat sitting on a chair"' in call["inputs"]["messages"][1]["content"]


def test_optimize_video_prompt_has_motion_camera_and_duration(client, ai):
    ai.script(text=json.dumps(VIDEO_CUES))
    body = client.post(
        "/api/v1/llm/optimize-prompt", json={"prompt": "A serene ocean scene", "type": "video"}
    ).json()
    prompt = body["optimized_prompt"]
    assert "gentle waves wash in and out" in prompt
    assert "slow aerial dolly forward" in prompt
    assert "8-second clip" in prompt


def test_optimize_without_details_keeps_the_subject_short(client, ai):
    long_subject = "sea " + " ".join(f"wd{n}" for n in range(59))  # distinct words
    ai.script(text=json.dumps({**VIDEO_CUES, "subject": long_subject}))
    body = client.post(
        "/api/v1/llm/optimize-prompt",
        json={"prompt": "sea", "type": "video", "enhance_details": False},
    ).json()
    assert body["optimized_prompt"].count("wd") == 14  # and "sea"
    assert "8-second clip" in body["optimized_prompt"]


def test_optimize_repairs_once_then_gives_up_with_502(client, ai):
    ai.script(text='{"subject": "x"}')  # invalid: too short, fields missing
    ai.script(text=json.dumps(IMAGE_CUES))
    response = client.post("/api/v1/llm/optimize-prompt", json={"prompt": "cat", "type": "image"})
    assert response.status_code == 200
    repair = ai.calls[1]["inputs"]["messages"]
    assert repair[2] == {"role": "assistant", "content": '{"subject": "x"}'}
    assert "not accepted" in repair[3]["content"]

    ai.script(text="nonsense")
    ai.script(text="{}")
    response = client.post("/api/v1/llm/optimize-prompt", json={"prompt": "cat", "type": "image"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "SERVICE_ERROR"
    assert "after 2 attempts" in error["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "image"}, "prompt"),
        ({"prompt": "x", "type": "audio"}, "type"),
        ({"prompt": "x"}, "type"),
        ({"prompt": "x", "type": "image", "enhance_details": "no"}, "enhance_details"),
    ],
)
def test_optimize_validation(client, payload, field):
    response = client.post("/api/v1/llm/optimize-prompt", json=payload)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == field
