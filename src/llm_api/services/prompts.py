"""Prompt optimisation for image and video generation.

The model writes the parts (a richer subject and one phrase per cue); code assembles
them, so every video prompt really has motion, camera and duration cues and every image
prompt composition, lighting and lens cues, whatever the model's quality.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm_api.catalog import ModelInfo
from llm_api.schemas.v1 import OptimizePromptRequest, OptimizePromptResponse
from llm_api.services.generation import Caller
from llm_api.services.structured import as_data, generate_structured

#: word budget of the subject when enhance_details is false (the cues are kept)
SHORT_SUBJECT_WORDS = 15


class ImageCues(BaseModel):
    subject: str = Field(min_length=3, max_length=400, description="the scene, vividly described")
    composition: str = Field(min_length=3, max_length=120, description="framing and layout")
    lighting: str = Field(min_length=3, max_length=120, description="light source and mood")
    lens: str = Field(
        min_length=3, max_length=120, description="lens, focal length, depth of field"
    )


class VideoCues(BaseModel):
    subject: str = Field(min_length=3, max_length=400, description="the scene, vividly described")
    motion: str = Field(min_length=3, max_length=120, description="what moves and how")
    camera: str = Field(min_length=3, max_length=120, description="camera movement and angle")
    duration_seconds: int = Field(ge=2, le=60, description="clip length in seconds")


INSTRUCTIONS = {
    "image": "You improve prompts for text-to-image models. Keep the user's subject and "
    "intent; describe it concretely; choose a composition, the lighting and a lens.",
    "video": "You improve prompts for text-to-video models. Keep the user's subject and "
    "intent; describe it concretely; choose the motion, a camera movement and a duration.",
}


async def optimize_prompt(
    caller: Caller, model: ModelInfo, request: OptimizePromptRequest
) -> OptimizePromptResponse:
    cue_type: type[ImageCues] | type[VideoCues] = (
        ImageCues if request.type == "image" else VideoCues
    )
    instructions = INSTRUCTIONS[request.type]
    if request.style:
        instructions += " The requested style is given with the prompt."
    if not request.enhance_details:
        instructions += " Be brief: a few words per field."
    data = as_data("Prompt to improve", request.prompt)
    if request.style:
        data += "\n" + as_data("Requested style", request.style)
    cues = await generate_structured(
        caller, model, cue_type, instructions=instructions, data=data, check=_not_blank
    )
    return assemble(request, cues)


def assemble(request: OptimizePromptRequest, cues: ImageCues | VideoCues) -> OptimizePromptResponse:
    subject = _clean(cues.subject)
    if not request.enhance_details:
        subject = _shorten(subject, SHORT_SUBJECT_WORDS)
    improvements = ["Described the subject in concrete visual detail"]
    parts = [f"{request.style.strip()} style" if request.style else None, subject]
    if isinstance(cues, VideoCues):
        parts += [_clean(cues.motion), _clean(cues.camera), f"{cues.duration_seconds}-second clip"]
        improvements += [
            f"Added motion: {_clean(cues.motion)}",
            f"Added camera movement: {_clean(cues.camera)}",
            f"Set a duration: {cues.duration_seconds} seconds",
        ]
    else:
        parts += [_clean(cues.composition), _clean(cues.lighting), _clean(cues.lens)]
        improvements += [
            f"Added composition: {_clean(cues.composition)}",
            f"Added lighting: {_clean(cues.lighting)}",
            f"Added lens: {_clean(cues.lens)}",
        ]
    if request.style:
        improvements.append(f"Applied the requested style: {request.style.strip()}")
    optimized = ", ".join(part for part in parts if part)
    return OptimizePromptResponse(
        original_prompt=request.prompt, optimized_prompt=optimized, improvements=improvements
    )


def _not_blank(cues: ImageCues | VideoCues) -> list[str]:
    return [
        f"{name} is blank"
        for name, value in cues.model_dump().items()
        if isinstance(value, str) and not _clean(value)
    ]


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" ,.;")


def _shorten(text: str, words: int) -> str:
    kept = text.split()
    return " ".join(kept[:words]).rstrip(",") if len(kept) > words else text
