"""`make install` says what each step does and shows signs of life while pip compiles
llama-cpp-python (scripts/install_step.py), in a terminal and in a CI log alike."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

from tests.support.paths import ROOT

SCRIPT = ROOT / "scripts" / "install_step.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_step", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "run", "--every", "0.1", "--", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_long_silent_step_prints_lines_while_it_runs() -> None:
    result = _run(sys.executable, "-c", "import time; time.sleep(1)")  # a silent pip stand-in
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("    ... still working, 0m0") for line in lines), lines
    assert lines[-1].startswith("    done in 0m0")


def test_a_failing_step_keeps_its_exit_status() -> None:
    result = _run(sys.executable, "-c", "raise SystemExit(3)")
    assert result.returncode == 3
    assert "failed (exit status 3)" in result.stdout


def test_the_llama_note_says_which_of_build_cached_wheel_or_installed_applies() -> None:
    note = _script().llama_note
    wheel = "/cache/wheels/ab/llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    building = note("0.3.36", None, [])
    assert building.startswith("Building llama-cpp-python 0.3.36 from source, about 5 minutes")
    assert "later installs reuse the cached wheel" in building
    assert note("0.3.37", None, [wheel]).startswith("Building")  # a wheel of another version
    assert "reusing the wheel pip built before" in note("0.3.36", None, [wheel])
    assert "already installed" in note("0.3.36", "0.3.36", [])


def test_the_llama_pin_is_read_from_pyproject() -> None:
    pin = _script().pinned_llama_version()
    assert pin and f"llama-cpp-python=={pin}" in (ROOT / "pyproject.toml").read_text()


def test_make_install_says_each_step_and_ticks_through_the_llama_build() -> None:
    recipe = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "install"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    steps = [line for line in recipe.splitlines() if line.startswith('echo "==> [')]
    assert len(steps) == 4, recipe
    assert "scripts/install_step.py llama-note" in recipe
    assert "scripts/install_step.py run -- .venv/bin/python -m pip install" in recipe


def test_make_test_says_how_long_the_skipped_browser_tests_would_take() -> None:
    recipe = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    notice = recipe[recipe.index("BROWSER TESTS SKIPPED") :]
    assert "add about 35 s" in notice[: notice.index("***")]
