"""The AI binding protocol (Workers AI's own ``env.AI.run``) and the platform object."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict, runtime_checkable

from llm_api.catalog.source import HostCatalog
from llm_api.stored_responses import MemoryResponseStore, ResponseStore

if TYPE_CHECKING:  # names only: the protocol layer depends on none of them
    from llm_api.keys import KeyStore
    from llm_api.ratelimit import Limiter
    from llm_api.settings import Settings
    from llm_api.usage import UsageStore


class Usage(TypedDict, total=False):
    """Token counts. From an upstream, only those it reported plausibly
    (``events.usage``); from the generation service, all three, estimated if need be.
    The details are kept flat here, only where the upstream reported them; OpenAI's nested
    ``*_tokens_details`` form is rendered at the /v1 and /api/v1 edges (``openai.wire_usage``)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    #: ``prompt_tokens_details.cached_tokens``: the part of the prompt served from the prefix
    #: cache, when the upstream says (Chat Completions usage [M-glm][AI-TY]; facts-14 §4 [PC]);
    #: costed at the cached rate (``accounted.KeyAccount``)
    cached_tokens: int
    #: ``completion_tokens_details.reasoning_tokens``: the part of the completion spent thinking
    reasoning_tokens: int


class ToolCall(TypedDict):
    """A tool call as services and clients get it (``events.tool_call``, the one rule).
    ``arguments`` is an object, or, only in an answer cut by ``max_tokens``
    (``finish_reason`` "length"), the JSON text generated so far (``tool_stream.cut_tool_call``)."""

    name: str
    arguments: dict[str, Any] | str
    id: NotRequired[str]


class UpstreamToolCall(TypedDict, total=False):
    """A tool call as a backend may put it in a result: never parsed there. Binding-shaped
    (``name``, ``arguments`` an object or JSON text) or OpenAI-shaped (``id``, ``function``)."""

    id: str
    name: str
    arguments: dict[str, Any] | str
    function: dict[str, Any]


class ToolCallFragment(TypedDict):
    """One ``chat.completion.chunk`` delta of a tool call; ``arguments`` is a piece of text
    (also the engine's own deltas, ``tool_stream.ToolCallStream``)."""

    index: int
    id: str
    name: str
    arguments: str


class TopLogprob(TypedDict):
    """One token and its log-probability (OpenAI's ``top_logprobs`` item); ``bytes`` its
    UTF-8 bytes (a token may hold part of a character), or None."""

    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(TopLogprob):
    """One sampled token of the answer (an item of OpenAI's ``logprobs.content``), with the
    most likely tokens at its place, best first (as many as ``top_logprobs`` asked)."""

    top_logprobs: list[TopLogprob]


#: the optional ``AIBinding.features``: ``"logprobs"`` — it honours the ``logprobs`` and
#: ``top_logprobs`` inputs and returns ``TokenLogprob`` lists (``RunResult.logprobs``)
LOGPROBS = "logprobs"


def features_of(ai: object) -> frozenset[str]:
    """What ``ai`` can do beyond Workers AI's inputs (``features``, a set of names; none
    declared is none: Workers AI's binding and REST API declare nothing)."""
    features = getattr(ai, "features", None)
    return frozenset(features) if isinstance(features, frozenset | set) else frozenset()


class RunResult(TypedDict):
    """What ``run`` returns for ``inputs["stream"] = False``."""

    response: str
    usage: NotRequired[Usage]  # absent: the upstream said nothing; the service estimates
    tool_calls: NotRequired[list[UpstreamToolCall]]
    finish_reason: NotRequired[str]  # "stop" | "length" | "tool_calls" | ...
    #: a reasoning model's thinking text, never part of ``response`` (facts-14 §2:
    #: ``reasoning_content`` for GLM/Qwen3, ``reasoning`` for Kimi K2.6, Responses ``reasoning``)
    reasoning: NotRequired[str]
    #: the answer's token log-probabilities, when ``inputs["logprobs"]`` asked a binding
    #: whose ``features`` has ``"logprobs"``; stream events carry theirs the same way
    logprobs: NotRequired[list[TokenLogprob]]


#: ... and this for ``inputs["stream"] = True``: SSE bytes, chunked anyhow —
#: ``data: {"response": "..."}`` per token, a final event with ``usage`` (and
#: ``tool_calls``/``finish_reason`` when known), then ``data: [DONE]``. An async
#: generator, so a reader that stops early closes it with ``aclose()``.
SSEByteStream = AsyncGenerator[bytes, None]


@runtime_checkable
class AIBinding(Protocol):
    """Anything with Workers AI's ``run``: the real binding, or a local backend.

    ``engine`` names the engine that really answers, for the ``x-llm-backend`` header;
    an optional ``features`` set says what it does beyond Workers AI (``features_of``).
    Backends raise ``llm_api.errors.BackendError`` subclasses (or ``InvalidRequest`` /
    ``ModelNotFound`` for what the upstream rejects) — never bare exceptions.
    """

    engine: str

    async def run(
        self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> RunResult | SSEByteStream: ...


@runtime_checkable
class ModelSource(Protocol):
    """A binding that can list the account's models: the Worker's ``env.AI.models()`` and
    the REST backend's ``/ai/models/search``. Raw entries (``catalog.live`` reads them);
    the embedded and OpenAI backends have none and serve the built-in table."""

    async def list_models(self) -> list[Any]: ...


@dataclass(slots=True)
class Platform:
    ai: AIBinding
    settings: Settings
    keys: KeyStore
    limiter: Limiter
    usage: UsageStore
    #: the models this host serves; by default the table, the settings' successor pins and,
    #: where ``ai`` is a ``ModelSource``, the account's live list
    catalog: HostCatalog = field(default=None)  # type: ignore[assignment]
    #: stored Responses API objects, per key; each host passes its own (the default keeps
    #: them in memory: tests, and a host that keeps nothing across restarts)
    responses: ResponseStore = field(default_factory=MemoryResponseStore)

    def __post_init__(self) -> None:
        if self.catalog is None:
            source = self.ai.list_models if isinstance(self.ai, ModelSource) else None
            self.catalog = HostCatalog(
                successors=self.settings.model_successors, list_models=source
            )


#: How the app finds the platform for a request: the local host returns one fixed
#: object; the Worker builds (and caches) one from ``scope["env"]``.
PlatformProvider = Callable[[MutableMapping[str, Any]], Platform]


def fixed_platform(platform: Platform) -> PlatformProvider:
    def provide(scope: MutableMapping[str, Any]) -> Platform:
        return platform

    return provide
