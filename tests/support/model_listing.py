"""Live model listings for the catalog tests: the fixture entries (docs JSON, see
``fixtures/workers_ai/README.md``), one model no table knows, and filler for paging."""

from __future__ import annotations

import json
from typing import Any

from tests.support.paths import ROOT

FIXTURES = ROOT / "tests" / "support" / "fixtures" / "workers_ai"
#: a model no table knows (made up): the live list alone says what it can do
NEWCOMER = "@cf/example-lab/newcomer-7b-instruct"
NEWCOMER_ENTRY: dict[str, Any] = {
    "id": "00000000-0000-4000-8000-000000000001",
    "source": 1,
    "name": NEWCOMER,
    "task": {"id": "c329a1f9-323d-4e91-b2aa-582dd4188d34", "name": "Text Generation"},
    "properties": [
        {"property_id": "context_window", "value": "65536"},
        {"property_id": "function_calling", "value": "true"},
        {
            "property_id": "price",
            "value": [
                {"unit": "per M input tokens", "price": 0.1, "currency": "USD"},
                {"unit": "per M output tokens", "price": 0.2, "currency": "USD"},
            ],
        },
    ],
}


def binding_listing() -> list[dict[str, Any]]:
    """``models-binding.json``: what ``env.AI.models()`` resolves to."""
    entries: list[dict[str, Any]] = json.loads((FIXTURES / "models-binding.json").read_text())
    return entries


def filler(number: int) -> dict[str, Any]:
    """Made-up entries, so a listing needs a second page of 50."""
    return {
        "id": f"00000000-0000-4000-9000-{number:012d}",
        "name": f"@cf/filler/model-{number}",
        "task": {"name": "Text Generation"},
        "properties": [],
    }


def listing() -> list[dict[str, Any]]:
    """57 entries: 50 filler, the six of the fixture, the newcomer (two pages of 50)."""
    return [*(filler(n) for n in range(50)), *binding_listing(), NEWCOMER_ENTRY]
