"""wrangler.toml says what the Worker needs, and wrangler itself accepts it (offline)."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping

import pytest

from llm_api.settings import Settings
from tests.support.paths import ROOT

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


def test_api_keys_live_in_kv_and_each_keys_window_in_a_sqlite_durable_object():
    # No `id`: wrangler provisions the namespace on the first deploy and reuses it.
    assert CONFIG["kv_namespaces"] == [{"binding": "API_KEYS"}]
    assert CONFIG["durable_objects"]["bindings"] == [
        {"name": "RATE_LIMITER", "class_name": "RateLimiter"}
    ]
    assert CONFIG["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["RateLimiter"]}]
    entry = (ROOT / CONFIG["main"]).read_text()
    assert "class RateLimiter(DurableObject):" in entry


def test_rate_limit_and_cors_defaults_are_set_and_the_admin_token_is_no_var():
    variables = CONFIG["vars"]
    assert variables["LLM_API_RATE_LIMIT_RPM"] == "100"
    assert variables["ALLOWED_ORIGINS"] == "*"
    assert "ADMIN_TOKEN" not in variables  # a secret: `npx wrangler secret put ADMIN_TOKEN`
    settings = Settings.from_mapping(variables)
    assert (settings.rate_limit_rpm, settings.allowed_origins) == (100, ("*",))


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
    assert "env.API_KEYS" in output and "env.RATE_LIMITER (RateLimiter)" in output
    assert "--dry-run: exiting now." in output
    assert (bundle / "entry.py").is_file()
    assert (bundle / "llm_api" / "platform" / "workers" / "provider.py").is_file()
