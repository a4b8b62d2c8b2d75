"""Language-learning endpoints of the native API: level feedback, topics, session summaries."""

from __future__ import annotations

from fastapi import APIRouter

from llm_api.catalog import ModelInfo
from llm_api.errors import NATIVE, InvalidRequest
from llm_api.http.dependencies import BackendHeaders, CallerDep, SettingsDep
from llm_api.http.openapi import GENERATION, PROTECTED, error_responses
from llm_api.schemas.tutor import (
    ConversationTopicsRequest,
    ConversationTopicsResponse,
    LevelFeedbackRequest,
    LevelFeedbackResponse,
    SessionSummaryRequest,
    SessionSummaryResponse,
)
from llm_api.services.generation import Caller
from llm_api.services.tutor.feedback import level_feedback
from llm_api.services.tutor.summary import summarise_session
from llm_api.services.tutor.topics import conversation_topics
from llm_api.settings import Settings

router = APIRouter(
    prefix=NATIVE.prefix, tags=["tutor"], responses=error_responses(NATIVE, *PROTECTED)
)

#: a 502 here also means the model twice failed to produce a valid answer
GENERATION_DOC = error_responses(NATIVE, *GENERATION)


@router.post("/level-feedback", responses=GENERATION_DOC)
async def feedback(
    body: LevelFeedbackRequest, caller: CallerDep, settings: SettingsDep, _: BackendHeaders
) -> LevelFeedbackResponse:
    """Feedback on an assessment in five sections: Overall Assessment, Strengths, Areas for
    Improvement, Study Recommendations and Next Steps to the next CEFR level. Strengths and
    areas for improvement are the highest and lowest scores, quoted with their values."""
    return await level_feedback(caller, _model(caller, body.model, settings), body)


@router.post("/conversation-topics", responses=GENERATION_DOC)
async def topics(
    body: ConversationTopicsRequest, caller: CallerDep, settings: SettingsDep, _: BackendHeaders
) -> ConversationTopicsResponse:
    """`count` distinct conversation questions for the level, each about one of the
    interests, written in `language`."""
    return await conversation_topics(caller, _model(caller, body.model, settings), body)


@router.post("/session-summary", responses=GENERATION_DOC)
async def session_summary(
    body: SessionSummaryRequest, caller: CallerDep, settings: SettingsDep, _: BackendHeaders
) -> SessionSummaryResponse:
    """Key points, vocabulary, grammar and suggestions from a lesson transcript.
    `speakingTime` is counted from the transcript's speaker labels, not generated;
    `vocabularyUsed` holds only words the transcript contains. Transcripts longer than the
    model's context are summarised in parts and merged."""
    return await summarise_session(caller, _model(caller, body.model, settings), body)


def _model(caller: Caller, requested: str | None, settings: Settings) -> ModelInfo:
    model = caller.catalog.resolve(requested or settings.tutor_model)
    # JSON mode of the model that will answer: a retired one is served by its successor
    serving = caller.catalog.serving_model(model) or model
    if not serving.supports_json_mode:
        active = caller.catalog.models(active_only=True)
        usable = ", ".join(m.short_id for m in active if m.supports_json_mode)
        raise InvalidRequest(
            f"model: '{serving.short_id}' has no JSON mode, which this endpoint needs for "
            f"structured output; use one of {usable}",
            param="model",
        )
    return model
