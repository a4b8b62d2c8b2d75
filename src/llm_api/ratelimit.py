"""Per-key rate limiting: an exact sliding-window log, plus the headers that report it.

The rule: a request at time ``t`` is admitted iff fewer than ``limit`` admissions lie in
``(t - window, t]``. An admission exactly ``window`` old no longer counts, so a request is
admitted again exactly when the oldest admission turns 60 s old; and no span of ``window``
seconds ever holds more than ``limit`` admissions. Rejections are not logged, so a client
hammering at a 429 does not push its own recovery back.

The algorithm is pure (no I/O, no clock): the local host wraps it in its
``InProcessLimiter`` (``llm_api.platform.local.limiter``), the Worker in its per-key Durable Object
(``llm_api.platform.workers.durable_object``). Both feed it times in seconds; ``admit`` itself is
unit-agnostic (tests use integer milliseconds with ``window_s=60_000`` for exact checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

DEFAULT_LIMIT = 100
DEFAULT_WINDOW_S = 60.0
POLICY_NAME = "default"


@dataclass(frozen=True, slots=True)
class Decision:
    """What one request got.

    ``reset_after_s``: seconds until the oldest admission in the window leaves it, i.e.
    until ``remaining`` next goes up (0 when the window is empty). ``retry_after_s``:
    for a rejection, seconds until a slot frees; 0 for an admission.
    """

    admitted: bool
    limit: int
    remaining: int
    reset_after_s: float
    retry_after_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(
            admitted=bool(data["admitted"]),
            limit=int(data["limit"]),
            remaining=int(data["remaining"]),
            reset_after_s=float(data["reset_after_s"]),
            retry_after_s=float(data["retry_after_s"]),
        )


def admit(
    log: Iterable[float], now: float, limit: int, window_s: float = DEFAULT_WINDOW_S
) -> tuple[Decision, list[float]]:
    """Decide on a request at ``now``; return the decision and the new log.

    ``log`` holds earlier admission times (any order); it is not mutated. The new log
    drops what has left the window and, on admission, ends with ``now``.
    """
    # `now - t < window_s`, not `t > now - window_s`: float subtraction is monotone in
    # `now`, so an entry pruned once stays out of every later window.
    kept = sorted(t for t in log if now - t < window_s)
    return decide(kept, now, limit, window_s), kept


def decide(kept: list[float], now: float, limit: int, window_s: float) -> Decision:
    """The decision for ``kept`` (sorted, all in the window); appends ``now`` if admitted.
    ``admit`` without its copy and sort, for a caller that keeps its log sorted."""
    admitted = len(kept) < limit
    if admitted:
        kept.append(now)
        retry_after = 0.0
    elif limit > 0:
        # A slot frees when the entry that brings the count below the limit expires
        # (kept[0], unless the limit was lowered while the log was fuller).
        retry_after = _until_expiry(kept[len(kept) - limit], now, window_s)
    else:  # a limit of 0 admits nothing, ever
        retry_after = window_s
    reset_after = _until_expiry(kept[0], now, window_s) if kept else 0.0
    return Decision(
        admitted=admitted,
        limit=limit,
        remaining=max(0, limit - len(kept)),
        reset_after_s=reset_after,
        retry_after_s=retry_after,
    )


def _until_expiry(admitted_at: float, now: float, window_s: float) -> float:
    # Clamped: a clock that stepped backwards must not announce a wait beyond the window.
    return min(window_s, max(0.0, admitted_at + window_s - now))


class Limiter(Protocol):
    """Admits or refuses one request for a key (a sliding window of ``limit`` per minute):
    the local host's ``platform.local.limiter.InProcessLimiter``, the Worker's per-key
    Durable Object (``platform.workers.state``)."""

    async def hit(self, key_id: str, limit: int) -> Decision: ...


# --- headers ---------------------------------------------------------------------------


def rate_limit_headers(
    decision: Decision, window_s: float = DEFAULT_WINDOW_S, *, policy: str = POLICY_NAME
) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*-requests`` trio and the IETF draft's RateLimit pair."""
    return {
        "x-ratelimit-limit-requests": str(decision.limit),
        "x-ratelimit-remaining-requests": str(decision.remaining),
        "x-ratelimit-reset-requests": openai_duration(decision.reset_after_s),
        "RateLimit-Policy": f'"{policy}";q={decision.limit};w={_ceil_seconds(window_s)}',
        "RateLimit": f'"{policy}";r={decision.remaining};t={_ceil_seconds(decision.reset_after_s)}',
    }


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` for a wait of ``seconds``: whole seconds, rounded up (a client that
    obeys it must not be refused again), at least 1."""
    return str(max(1, _ceil_seconds(seconds)))


def openai_duration(seconds: float) -> str:
    """A duration the way OpenAI's headers (Go's ``time.Duration``) write it.

    Millisecond precision, rounded up so a client never waits too little:
    ``0s``, ``12ms``, ``1s``, ``17.28s``, ``1m30s``, ``6m0s``, ``1h0m0s``.
    """
    ms = _ceil_millis(seconds)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    out = f"{secs}s"
    if hours or minutes:
        out = f"{minutes}m{out}"
    if hours:
        out = f"{hours}h{out}"
    return out


# Rounding first absorbs float noise (59.99999999999 → 60), so that ceil only rounds
# up real fractions; sub-microsecond precision means nothing to a rate limit.
def _ceil_millis(seconds: float) -> int:
    return max(0, math.ceil(round(seconds * 1000, 3)))


def _ceil_seconds(seconds: float) -> int:
    return max(0, math.ceil(round(seconds, 6)))
