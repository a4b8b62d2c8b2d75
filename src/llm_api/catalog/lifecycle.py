"""Retirement bookkeeping: the Deprecation/Sunset header values and the successor setting.

``Deprecation`` follows RFC 9745 (a Structured Field Date, ``@<unix seconds>``, which may lie in
the future: "will be deprecated then"); ``Sunset`` follows RFC 8594 (an HTTP-date), sent only
while the planned date is still ahead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import formatdate

from llm_api.catalog.model import ModelInfo
from llm_api.catalog.table import RETIRED_IDS

#: a full Workers AI model id: ``@cf/<author>/<name>`` (or ``@hf/``); bounded
FULL_ID = re.compile(r"@(?:cf|hf)/[A-Za-z0-9][A-Za-z0-9._-]{0,63}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")

SUCCESSORS_SETTING = "LLM_API_MODEL_SUCCESSORS"
MAX_SUCCESSOR_ENTRIES = 64
MAX_SUCCESSOR_CHARS = 4_096


class ModelConfigError(ValueError):
    """A model setting is malformed: a start-up error naming the entry, never an HTTP 400."""


def unix_time(day: date) -> int:
    """Midnight UTC of ``day`` in seconds since the epoch."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def deprecation_header(model: ModelInfo) -> str | None:
    """``Deprecation`` for a retired model (its retirement day) or one with a planned date."""
    day = model.retired_on or model.planned_deprecation
    return None if day is None else f"@{unix_time(day)}"


def sunset_header(model: ModelInfo, *, now: float | None = None) -> str | None:
    """``Sunset`` while a planned deprecation date is in the future; None once it has passed
    or the model is retired (a successor answers then, nothing is about to go away)."""
    day = model.planned_deprecation
    if day is None or model.retired:
        return None
    when = unix_time(day)
    if when <= (time.time() if now is None else now):
        return None
    return formatdate(when, usegmt=True)


def parse_successor_setting(
    raw: str | None,
    lookup: Callable[[str], ModelInfo | None],
    *,
    setting: str = SUCCESSORS_SETTING,
) -> dict[str, str]:
    """``"llama-3-8b-instruct=glm-4.7-flash, ..."`` → ``{retired full id: successor full id}``.

    Each side is a catalog id (short or full) or, for a model only the live list knows, a full
    ``@cf/...`` id. A pin takes effect when its model is retired (by the table, or by a 5028 at
    run time), so an active model may be pinned ahead of its retirement.
    """
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_SUCCESSOR_CHARS:
        raise ModelConfigError(f"{setting}: longer than {MAX_SUCCESSOR_CHARS} characters")
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if len(entries) > MAX_SUCCESSOR_ENTRIES:
        raise ModelConfigError(f"{setting}: more than {MAX_SUCCESSOR_ENTRIES} entries")
    pins: dict[str, str] = {}
    for entry in entries:
        retired, successor = _pair(entry, lookup, setting)
        if retired in pins:
            raise ModelConfigError(f"{setting}: {_quote(entry)} pins '{retired}' a second time")
        pins[retired] = successor
    return pins


def _pair(entry: str, lookup: Callable[[str], ModelInfo | None], setting: str) -> tuple[str, str]:
    left, sep, right = entry.partition("=")
    if not sep or "=" in right or not left.strip() or not right.strip():
        raise ModelConfigError(f"{setting}: {_quote(entry)} is not RETIRED_ID=SUCCESSOR_ID")
    retired = _full_id(left.strip(), entry, lookup, setting)
    successor = _full_id(right.strip(), entry, lookup, setting)
    if retired == successor:
        raise ModelConfigError(f"{setting}: {_quote(entry)} names the same model twice")
    target = lookup(successor)
    if (target is not None and target.retired) or successor in RETIRED_IDS:
        name = target.short_id if target is not None else successor
        raise ModelConfigError(f"{setting}: {_quote(entry)}: the successor '{name}' is retired too")
    return retired, successor


def _full_id(
    model_id: str, entry: str, lookup: Callable[[str], ModelInfo | None], setting: str
) -> str:
    model = lookup(model_id)
    if model is not None:
        return model.id
    if FULL_ID.fullmatch(model_id):
        return model_id  # a model only the live catalog lists; checked when it is used
    raise ModelConfigError(
        f"{setting}: {_quote(entry)}: '{model_id[:80]}' is not a catalog model "
        "(a model the built-in table does not know needs its full @cf/... id)"
    )


def _quote(entry: str) -> str:
    return repr(entry if len(entry) <= 80 else entry[:77] + "...")
