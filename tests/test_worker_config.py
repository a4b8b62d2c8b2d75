"""wrangler.toml says what the Worker needs, and wrangler itself accepts it (offline)."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from llm_api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "wrangler.toml").read_text())
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"

#: the first date on which Python Workers get Python 3.13 (Pyodide 0.28)
PYTHON_313_DATE = datetime.date(2025, 9, 29)


def test_the_worker_runs_src_entry_py_as_a_python_worker():
    assert CONFIG["name"] == "llm-api"
    assert CONFIG["main"] == "src/entry.py"
    assert (ROOT / CONFIG["main"]).is_file()
    assert "python_workers" in CONFIG["compatibility_flags"]
    assert datetime.date.fromisoformat(CONFIG["compatibility_date"]) >= PYTHON_313_DATE


def test_workers_ai_is_bound_as_env_ai_and_logs_are_kept():
    assert CONFIG["ai"] == {"binding": "AI"}
    assert CONFIG["observability"]["enabled"] is True


class AskedFor(Mapping[str, str]):
    """An empty mapping that remembers which names were asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_vars_are_strings_that_settings_reads_and_accepts():
    names = AskedFor()
    Settings.from_mapping(names)
    variables = CONFIG["vars"]
    assert set(variables) <= names.asked, "a var that Settings never reads"
    assert all(isinstance(value, str) for value in variables.values())
    settings = Settings.from_mapping(variables)
    assert settings.default_model == variables["LLM_API_DEFAULT_MODEL"]


@pytest.mark.skipif(
    not WRANGLER.exists() or shutil.which("npm") is None,
    reason="wrangler is not installed (node_modules/.bin/wrangler): run `npm ci` (make test does)",
)
def test_wrangler_dry_run_accepts_the_worker():
    bundle = ROOT / ".wrangler" / "dry-run"  # package.json's `check` writes the upload here
    shutil.rmtree(bundle, ignore_errors=True)
    done = subprocess.run(
        ["npm", "run", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "env.AI" in output
    assert "--dry-run: exiting now." in output
    assert (bundle / "entry.py").is_file()
    assert (bundle / "llm_api" / "platform" / "workers.py").is_file()
