"""The CPython host's event loop choice and start-up freeze (llm_api.platform.local.tuning)."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

import pytest
import uvloop

from llm_api.cli import main
from llm_api.platform.local.tuning import (
    LoopUnavailable,
    event_loop_factory,
    freeze_startup_objects,
)


def test_auto_and_uvloop_pick_uvloop_when_installed() -> None:
    assert event_loop_factory("auto") is uvloop.new_event_loop
    assert event_loop_factory("uvloop") is uvloop.new_event_loop
    assert event_loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_an_explicit_choice_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert event_loop_factory("auto") is None
    with pytest.raises(LoopUnavailable):
        event_loop_factory("uvloop")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    argv = ["serve", "--backend", "openai", "--loop", "uvloop", "--state-dir", str(tmp_path)]
    assert main(argv) == 2
    assert "--loop uvloop: uvloop is not installed" in capsys.readouterr().err


def test_the_chosen_loop_runs_coroutines() -> None:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:
        assert runner.run(which()).startswith("uvloop")


def test_freezing_hides_start_up_objects_from_the_collector() -> None:
    try:
        frozen = freeze_startup_objects()
        assert frozen > 1000 and gc.get_freeze_count() == frozen
        assert len(gc.get_objects(generation=2)) < frozen
    finally:
        gc.unfreeze()
