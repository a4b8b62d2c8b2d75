"""The model table: ids, aliases, context windows, capabilities and prices.

Figures are the seed documentation's (Workers AI list prices per million tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_api.errors import ModelNotFound

CLOUDFLARE_PREFIX = "@cf/meta/"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    short_id: str
    name: str
    context_window: int
    supports_tools: bool
    supports_json_mode: bool
    cost_per_m_input: float
    cost_per_m_output: float

    @property
    def id(self) -> str:
        return CLOUDFLARE_PREFIX + self.short_id

    def estimated_cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.cost_per_m_input + completion_tokens * self.cost_per_m_output
        ) / 1_000_000


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("llama-3.3-70b-instruct-fp8-fast", "Llama 3.3 70B (Fast)", 24_000, True, True, 0.29, 2.25),
    ModelInfo("llama-3.2-3b-instruct", "Llama 3.2 3B", 128_000, False, False, 0.051, 0.34),
    ModelInfo("llama-4-scout-17b-16e-instruct", "Llama 4 Scout 17B", 131_000, True, True, 0.27, 0.85),
    ModelInfo("llama-3.1-8b-instruct", "Llama 3.1 8B", 7_968, False, True, 0.28, 0.83),
    ModelInfo("llama-3-8b-instruct", "Llama 3 8B", 8_192, False, True, 0.28, 0.83),
    ModelInfo("llama-2-7b-chat-fp16", "Llama 2 7B", 4_096, False, False, 0.56, 6.67),
)  # fmt: skip

DEFAULT_MODEL = "llama-3.2-3b-instruct"
#: JSON-schema mode and speed: the default for structured jobs such as prompt optimisation
FAST_MODEL = "llama-3.3-70b-instruct-fp8-fast"

_BY_ID: dict[str, ModelInfo] = {}
for _model in MODELS:
    _BY_ID[_model.short_id] = _model
    _BY_ID[_model.id] = _model


def known_ids() -> list[str]:
    return [model.short_id for model in MODELS]


def resolve_model(model_id: str, *, param: str = "model") -> ModelInfo:
    """Find a model by short id (``llama-3.2-3b-instruct``) or full id (``@cf/meta/...``)."""
    model = _BY_ID.get(model_id.strip())
    if model is None:
        raise ModelNotFound(
            f"The model '{model_id}' does not exist. Known models: {', '.join(known_ids())}",
            param=param,
        )
    return model
