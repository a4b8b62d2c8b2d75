"""Prompt optimisation for image and video generation.

The model writes the parts (a richer subject and one phrase per cue); code assembles
them, so every video prompt really has motion, camera and duration cues and every image
prompt composition, lighting and lens cues, whatever the model's quality.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from llm_api.catalog import ModelInfo
from llm_api.schemas.v1 import OptimizePromptRequest, OptimizePromptResponse
from llm_api.services.generation import Caller
from llm_api.services.slots import Slot, Wording, by_slot, json_safe
from llm_api.services.structured import as_data, generate_structured
from llm_api.services.wording_check import Expect

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
    wording = Wording(caller, model)
    slots = cue_slots(request)
    if by_slot(caller, model):
        written = {name: await wording.write(slot) for name, slot in slots.items()}
        if cue_type is VideoCues:
            written["duration_seconds"] = DEFAULT_SECONDS  # code's number, as every number
        cues: ImageCues | VideoCues = cue_type.model_validate(written)
    else:
        instructions = INSTRUCTIONS[request.type]
        if request.style:
            instructions += " The requested style is given with the prompt."
        if not request.enhance_details:
            instructions += " Be brief: a few words per field."
        data = as_data("Prompt to improve", request.prompt)
        if request.style:
            data += "\n" + as_data("Requested style", request.style)
        answer = await generate_structured(
            caller, model, cue_type, instructions=instructions, data=data, check=_not_blank
        )
        vetted = {
            name: wording.vet(_clean(getattr(answer, name)), slot) for name, slot in slots.items()
        }
        cues = answer.model_copy(update=vetted)
    wording.publish()
    return assemble(request, cues)


def cue_slots(request: OptimizePromptRequest) -> dict[str, Slot]:
    """One phrase per part: the subject (about the user's prompt), then each cue (which
    must name its kind: a lighting cue says something of light). Code's fallbacks keep
    the user's own words for the subject and plain defaults for the cues."""
    prompt = _clean(request.prompt)
    about = tuple(word for word in re.findall(r"[^\W\d_]{3,}", prompt)) or (prompt,)
    fenced = as_data("Prompt", prompt)
    length = "a few words" if not request.enhance_details else "one line"
    # the model goes on from the user's own words (when they are short enough to lead)
    leads = len(prompt) <= MAX_LEAD_CHARS and json_safe(prompt)
    lead = prompt if leads and request.enhance_details else ""
    slots = {
        "subject": Slot(
            task=f"Describe the scene of this {request.type} prompt vividly, in {length}, "
            "as a phrase.",
            facts=fenced,
            lead=lead + "," if lead else "",
            expect=Expect(subject=about, kind="phrase", digits=True, max_chars=300),
            fallback=prompt,
        )
    }
    for name in CUES[request.type]:
        task, example, fallback = CUE_TASKS[name]
        slots[name] = Slot(
            task=task.format(kind=request.type),
            examples=(example,) if example else (),
            lead=CUE_LEADS.get(name, ""),
            facts=fenced,
            expect=Expect(
                subject=CUE_WORDS[name] + (about if name == "motion" else ()),
                kind="phrase",
                min_words=2,
                digits=name == "lens",
                max_chars=120,
            ),
            fallback=fallback,
        )
    return slots


#: a video's length when code chooses it (a small model's number would be a guess)
DEFAULT_SECONDS = 6
CUES = {"image": ("composition", "lighting", "lens"), "video": ("motion", "camera")}
CUE_TASKS = {
    "composition": (
        "Write a short phrase for the composition of this {kind}: the framing and layout.",
        "wide shot with the cabin framed in the lower third",
        "balanced composition with the subject framed on the thirds",
    ),
    "lighting": (
        "Write a short phrase for the lighting of this {kind}: the light source and mood.",
        "soft golden light from a low evening sun",
        "soft natural light with gentle shadows",
    ),
    "lens": (
        "Write a short phrase for the camera lens of this {kind}: lens, focal length, depth "
        "of field.",
        "35mm lens with a shallow depth of field",
        "50mm lens with a shallow depth of field",
    ),
    "motion": (
        "Write a short phrase for what moves in this {kind}, and how.",
        "",  # an example scene would be copied into another scene
        "gentle natural motion through the scene",
    ),
    "camera": (
        "Write a short phrase for the camera movement of this {kind}.",
        "slow dolly-in from a low angle",
        "slow tracking shot at eye level",
    ),
}
#: how a small model's cue starts (a word that names its kind)
CUE_LEADS = {
    "composition": "framed",
    "lighting": "lit by the",
    "camera": "the camera",
}
#: a longer prompt is not repeated as the subject's lead
MAX_LEAD_CHARS = 80
#: words that name each cue (a cue must use one)
CUE_WORDS: dict[str, tuple[str, ...]] = {
    "composition": (
        "composition", "shot", "frame", "framed", "framing", "centered", "centred", "close",
        "wide", "view", "thirds", "foreground", "background", "symmetrical", "angle",
        "portrait", "landscape", "overhead", "middle", "left", "right",
    ),
    "lighting": (
        "light", "lighting", "lit", "glow", "sun", "sunlight", "sunset", "sunrise", "shadow",
        "lamp", "moonlight", "backlit", "golden", "neon", "bright", "dark", "dim",
    ),
    "lens": (
        "lens", "mm", "focal", "aperture", "bokeh", "depth", "focus", "telephoto", "macro",
        "wide", "angle", "prime", "zoom", "fisheye",
    ),
    "motion": (
        "move", "moves", "moving", "motion", "slowly", "drift", "flow", "sway", "walk", "run",
        "fly", "turn", "rise", "fall", "wave", "spin", "float", "rush", "bustle", "crowd",
    ),
    "camera": (
        "camera", "pan", "tilt", "dolly", "tracking", "track", "zoom", "shot", "crane",
        "orbit", "push", "pull", "handheld", "drone", "aerial", "follows", "glides",
    ),
}  # fmt: skip


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
