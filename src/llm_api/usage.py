"""Usage and cost per key and UTC day: the record, the arithmetic, the store protocol.

Recorded once per answered request, after the response (for a stream, when its usage
arrives). Cost is ``catalog.ModelInfo.estimated_cost`` of that request's tokens.
``estimated_requests`` counts the requests whose tokens are (partly) our estimate, because
the backend reported none or an implausible count (``services.answers.counted_usage``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

DEFAULT_DAYS = 30


@dataclass(slots=True)
class UsageEntry:
    day: str  # "YYYY-MM-DD", UTC
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    estimated_requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UsageEntry:
        return cls(
            day=str(data["day"]),
            requests=int(data.get("requests", 0)),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            cost_usd=float(data.get("cost_usd", 0.0)),
            estimated_requests=int(data.get("estimated_requests") or 0),
        )


def utc_day(timestamp: float | None = None) -> str:
    """The UTC day of a POSIX timestamp (now when None), as ``YYYY-MM-DD``."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.date().isoformat()


def add_usage(
    entries: dict[str, UsageEntry],
    day: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: float,
    estimated: bool = False,
) -> None:
    """Count one request into ``entries`` (keyed by day), creating the day if new."""
    entry = entries.get(day)
    if entry is None:
        entry = entries[day] = UsageEntry(day=day)
    entry.requests += 1
    entry.prompt_tokens += prompt_tokens
    entry.completion_tokens += completion_tokens
    entry.cost_usd += cost_usd
    entry.estimated_requests += int(estimated)


def first_day(days: int, today: str | None = None) -> str:
    """The oldest day in a ``days``-day window ending with ``today`` (inclusive)."""
    end = date.fromisoformat(today) if today else datetime.now(UTC).date()
    return (end - timedelta(days=max(1, days) - 1)).isoformat()


def recent(
    entries: dict[str, UsageEntry] | list[UsageEntry], *, days: int, today: str | None = None
) -> list[UsageEntry]:
    """The entries of the last ``days`` days up to ``today``, newest first."""
    values = entries.values() if isinstance(entries, dict) else entries
    start = first_day(days, today)
    end = today or utc_day()
    return sorted((e for e in values if start <= e.day <= end), key=lambda e: e.day, reverse=True)


def totals(entries: list[UsageEntry]) -> dict[str, Any]:
    """The sums over ``entries``, shaped like an entry without its day."""
    return {
        "requests": sum(e.requests for e in entries),
        "prompt_tokens": sum(e.prompt_tokens for e in entries),
        "completion_tokens": sum(e.completion_tokens for e in entries),
        "cost_usd": sum(e.cost_usd for e in entries),
        "estimated_requests": sum(e.estimated_requests for e in entries),
    }


class UsageStore(Protocol):
    """Where usage lives: the key's Durable Object on Workers, SQLite locally."""

    async def record(
        self,
        key_id: str,
        *,
        day: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool = False,
    ) -> None: ...

    async def usage(
        self, key_id: str, *, days: int = DEFAULT_DAYS, today: str | None = None
    ) -> list[UsageEntry]:
        """The last ``days`` UTC days up to ``today`` (default: now), newest first."""
        ...


class MemoryUsageStore:
    """A :class:`UsageStore` in a dict, for tests and throwaway hosts."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, UsageEntry]] = {}

    async def record(
        self,
        key_id: str,
        *,
        day: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool = False,
    ) -> None:
        entries = self._entries.setdefault(key_id, {})
        add_usage(entries, day, prompt_tokens, completion_tokens, cost_usd, estimated)

    async def usage(
        self, key_id: str, *, days: int = DEFAULT_DAYS, today: str | None = None
    ) -> list[UsageEntry]:
        found = recent(self._entries.get(key_id, {}), days=days, today=today)
        return [UsageEntry.from_dict(e.to_dict()) for e in found]
