"""What the catalog knows about one model (``ModelInfo``), shared by the table and the live list.

Pure data: no I/O, nothing run at import beyond class definitions (the Worker imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

CLOUDFLARE_PREFIX = "@cf/meta/"

#: The request/response shape a model takes on Workers AI. A catalog property, never guessed
#: from an answer: "legacy" = ``prompt``/``messages`` in, ``{response, tool_calls, usage}`` out;
#: "chat_completions" = OpenAI Chat Completions (``max_completion_tokens``, ``choices[]``);
#: "responses" = OpenAI Responses (``input`` in, ``output[]`` out; gpt-oss only, no streaming).
IoShape = Literal["legacy", "chat_completions", "responses"]
IO_SHAPES: tuple[IoShape, ...] = ("legacy", "chat_completions", "responses")

#: Where JSON mode's schema goes in the inputs: ``response_format`` (most models) or
#: ``guided_json`` (mistral-small-3.1, per its model JSON in cloudflare-docs).
JsonParam = Literal["response_format", "guided_json"]

#: Where an entry's values came from: the built-in table, the account's live list, or both.
Source = Literal["table", "live", "table+live"]


@dataclass(frozen=True, slots=True)
class ReasoningEffort:
    """The ``reasoning_effort`` property of a model (an object in the live list)."""

    supported: tuple[str, ...] = ("low", "medium", "high")
    default: str | None = None
    #: reasoning cannot be turned off (gpt-oss): structured jobs can only ask for "low"
    mandatory: bool = False
    default_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One text-generation model. The first seven fields are the seed's; the rest default to
    what an old (2024-25) Workers AI model is: legacy shape, no reasoning, active."""

    short_id: str
    #: display name (the seed's for its six; the short id for a model only the live list knows)
    name: str
    context_window: int
    supports_tools: bool
    supports_json_mode: bool
    cost_per_m_input: float
    cost_per_m_output: float
    #: ``id`` is ``prefix + short_id``: ``@cf/<author>/`` (or ``@hf/<author>/``)
    prefix: str = CLOUDFLARE_PREFIX
    cost_per_m_cached_input: float | None = None
    reasoning: bool = False
    reasoning_effort: ReasoningEffort | None = None
    #: the ``chat_template_kwargs`` key that switches thinking off, where the model documents one
    thinking_kwarg: str | None = None
    vision: bool = False
    io_shape: IoShape = "legacy"
    json_param: JsonParam = "response_format"
    #: Workers Free accounts get 403 / 5035 for this model (Cloudflare, 2026-07-28)
    require_workers_paid: bool = False
    #: too small to fill a large JSON schema reliably (a judgement, not a Cloudflare property):
    #: the wording endpoints ask it for one sentence per request ("slot by slot", README)
    small: bool = False
    #: the languages it writes well enough to show a learner; None: whatever is asked
    languages: tuple[str, ...] | None = None
    beta: bool = False
    deprecated: bool = False
    #: the day Cloudflare stopped serving it (requests then end in 5028)
    retired_on: date | None = None
    #: the full id of the model that answers for it once retired
    replacement: str | None = None
    #: ``planned_deprecation_date`` of the live list: Deprecation/Sunset headers before it
    planned_deprecation: date | None = None
    source: Source = "table"

    def __post_init__(self) -> None:
        if self.retired_on is not None and not self.deprecated:
            raise ValueError(f"{self.short_id}: a retired model is deprecated")
        if self.io_shape not in IO_SHAPES:
            raise ValueError(f"{self.short_id}: unknown io_shape {self.io_shape!r}")

    @property
    def id(self) -> str:
        return self.prefix + self.short_id

    @property
    def retired(self) -> bool:
        return self.retired_on is not None

    @property
    def forced_reasoning(self) -> bool:
        return self.reasoning_effort is not None and self.reasoning_effort.mandatory

    def estimated_cost(
        self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> float:
        """USD at list prices. ``cached_tokens`` is the part of ``prompt_tokens`` served from
        the prefix cache (OpenAI's ``prompt_tokens_details.cached_tokens``), priced at the cached
        rate where the catalog has one."""
        cached = max(0, min(cached_tokens, prompt_tokens))
        cached_rate = self.cost_per_m_cached_input
        if cached_rate is None:
            cached_rate = self.cost_per_m_input
        return (
            (prompt_tokens - cached) * self.cost_per_m_input
            + cached * cached_rate
            + completion_tokens * self.cost_per_m_output
        ) / 1_000_000
