"""What the generation engine answers (``services.generation``): a whole ``Completion``, or
a stream of items ending in one ``StreamEnd``. The families' encoders read these; the
engine re-exports them, so callers import them from ``services.generation``."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_api.binding.protocol import TokenLogprob, ToolCall, Usage


@dataclass(slots=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: the model's thinking, never part of ``text``; only /v1 shows it (``reasoning_content``)
    reasoning: str = ""
    #: the tokens of ``text`` with their log-probabilities, where asked and given
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class TextDelta:
    text: str
    #: the log-probabilities of this text's tokens, where asked and given
    logprobs: list[TokenLogprob] | None = None


@dataclass(slots=True)
class ReasoningDelta:
    """A piece of the model's thinking: /v1 sends it as ``reasoning_content``, others drop it."""

    text: str


@dataclass(slots=True)
class ToolCallDelta:
    """A tool call as it is generated: its first delta names it (``id``, ``name``, maybe
    the start of its arguments), the later ones carry the next piece of its ``arguments``
    text (``name`` empty). ``index`` is its position in ``StreamEnd.tool_calls``, which
    has every call whole, with the same id."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class StreamEnd:
    usage: Usage
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)


StreamItem = TextDelta | ReasoningDelta | ToolCallDelta | StreamEnd
