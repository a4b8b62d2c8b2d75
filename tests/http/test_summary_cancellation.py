"""A session summary whose part fails stops its other parts (issue 12, finding 12 g)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from llm_api.catalog import resolve_model
from llm_api.errors import BackendError
from llm_api.schemas.tutor import SessionSummaryRequest
from llm_api.services.generation import Caller
from llm_api.services.tutor import summary
from tests.http.test_tutor_api import long_transcript


class OnePartFails:
    """Part 1's call fails at once; every other part's call waits until cancelled."""

    engine = "scripted"

    def __init__(self) -> None:
        self.waiting = 0
        self.cancelled = 0

    async def run(self, model: str, inputs: dict[str, Any], options: Any = None) -> Any:
        if "part 1 of" in inputs["messages"][1]["content"]:
            await asyncio.sleep(0)  # fail only once the others are under way
            raise BackendError("part 1 failed")
        self.waiting += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def test_a_failed_summary_cancels_its_parallel_parts() -> None:
    ai = OnePartFails()
    model = replace(resolve_model("llama-3.1-8b-instruct"), context_window=2_500)
    request = SessionSummaryRequest(
        transcript=long_transcript(120), duration=600, participants=["Student1", "Teacher1"]
    )

    async def run() -> None:
        async with asyncio.timeout(5):
            with pytest.raises(BackendError, match="part 1 failed"):
                await summary.summarise_session(Caller(ai), model, request)
        # Checked at once, before asyncio.run cancels whatever is left at its end.
        assert ai.waiting >= 1  # parts ran in parallel with the failing one
        assert ai.cancelled == ai.waiting  # and none of them is left running

    asyncio.run(run())
