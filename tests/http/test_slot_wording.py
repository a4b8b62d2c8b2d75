"""The wording endpoints on a host whose model is small (the embedded backend's catalog
entry): one request per sentence, code's sentences where the model's fail, and the
``x-llm-wording`` header that says which are which (issue 17)."""

from __future__ import annotations

import json

import pytest

from llm_api.binding.protocol import Platform
from llm_api.catalog import EMBEDDED_MODEL
from llm_api.catalog.source import HostCatalog
from llm_api.keys import MemoryKeyStore
from llm_api.platform.local.limiter import InProcessLimiter
from llm_api.settings import Settings
from llm_api.usage import MemoryUsageStore
from tests.support.scripted_ai import ScriptedAI
from tests.support.tutor_seed import SEED_FEEDBACK, SEED_PARTICIPANTS

SEED_TOPICS = {"level": "B1", "interests": ["technology", "travel", "cooking"]}


@pytest.fixture
def platform(ai: ScriptedAI, settings: Settings) -> Platform:
    """As the CLI builds it for ``--backend embedded``: the embedded model answers every id."""
    return Platform(
        ai=ai,
        settings=settings,
        keys=MemoryKeyStore(),
        limiter=InProcessLimiter(),
        usage=MemoryUsageStore(),
        catalog=HostCatalog(answered_by=EMBEDDED_MODEL),
    )


def test_seed_topics_never_502_even_when_every_answer_is_noise(client, ai):
    # today's failure: "only 3 distinct questions; write 5 different ones" (a 502)
    for _ in range(10):
        ai.script(text=json.dumps("Spain, France, Italy] #language_to_be_?"))
    response = client.post("/api/llm/conversation-topics", json=SEED_TOPICS)
    assert response.status_code == 200, response.text
    topics = response.json()["topics"]
    assert len(topics) == 5 and len(set(topics)) == 5
    assert topics[0] == "What do you enjoy most about technology?"
    assert response.headers["x-llm-wording"] == "model=0,template=5"
    assert len(ai.calls) == 10  # one request per question, and one retry each


def test_topics_are_asked_one_question_per_request(client, ai):
    questions = [
        "When it comes to technology, what gadget do you use most?",
        "When it comes to travel, what place would you visit again?",
        "When it comes to cooking, what dish do you make best?",
        "When it comes to technology, how has your phone changed your day?",
        "When it comes to travel, how do you plan a trip?",
    ]
    for question in questions:
        ai.script(text=json.dumps(question))
    response = client.post("/api/llm/conversation-topics", json=SEED_TOPICS)
    assert response.json() == {"topics": questions}
    assert response.headers["x-llm-wording"] == "model=5,template=0"
    first = ai.calls[0]["inputs"]
    assert "about technology" in first["messages"][1]["content"]
    assert first["response_format"]["json_schema"]["pattern"].endswith("[?]$")
    assert "content-language" not in response.headers


def test_topics_in_a_language_the_model_cannot_write_are_english_and_say_so(client, ai):
    body = {**SEED_TOPICS, "language": "Spanish", "count": 3}
    response = client.post("/api/llm/conversation-topics", json=body)
    assert response.status_code == 200
    assert response.headers["content-language"] == "en"
    assert "in English" in ai.calls[0]["inputs"]["messages"][1]["content"]


def test_level_feedback_is_written_sentence_by_sentence(client, ai):
    response = client.post("/api/llm/level-feedback", json=SEED_FEEDBACK)
    assert response.status_code == 200
    assert len(ai.calls) == 18  # nine sentences; the echoed prompt is no JSON: retried once
    assert response.headers["x-llm-wording"] == "model=0,template=9"
    feedback = response.json()["feedback"]
    assert "- Grammar (75%): Your grammar is accurate" in feedback
    assert "\n3. Practise interaction by asking a partner follow-up questions.\n" in feedback
    for call in ai.calls:
        assert "0-9" not in call["inputs"]["response_format"]["json_schema"]["pattern"]


def test_session_summary_lists_are_written_item_by_item(client, ai):
    transcript = (
        "Student: I went to the park with my family. Teacher: What did you eat there? "
        "Student: We ate sandwiches in the park."
    )
    body = {"transcript": transcript, "duration": 600, "participants": SEED_PARTICIPANTS}
    ai.script(text=json.dumps("The participants talked about a day in the park."))
    response = client.post("/api/llm/session-summary", json=body)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["keyPoints"][0] == "The participants talked about a day in the park."
    assert summary["grammarPatterns"][0] == "Past simple tense"  # code's detection
    assert summary["speakingTime"] == {"Student123": 74, "Teacher456": 26}  # 14 and 5 words
    # three key points and two suggestions; the grammar patterns are facts, not wording
    assert response.headers["x-llm-wording"] == "model=1,template=4"


def test_prompt_cues_are_written_one_by_one(client, ai):
    ai.script(text=json.dumps("a red fox sleeping in the snow, curled under a pine tree"))
    response = client.post(
        "/api/v1/llm/optimize-prompt",
        json={"prompt": "a red fox sleeping in the snow", "type": "video"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["optimized_prompt"].startswith("a red fox sleeping in the snow, curled under")
    assert body["optimized_prompt"].endswith(", 6-second clip")  # code's number
    assert response.headers["x-llm-wording"] == "model=1,template=2"


def test_a_page_on_another_origin_can_read_the_wording_header(client, ai):
    response = client.post(
        "/api/llm/conversation-topics",
        json={**SEED_TOPICS, "count": 1},
        headers={"origin": "https://app.example"},
    )
    assert response.headers["x-llm-wording"] == "model=0,template=1"
    assert "x-llm-wording" in response.headers["access-control-expose-headers"]
