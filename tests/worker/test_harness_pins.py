"""The Worker's pins: what pywrangler vendors is what the Worker harness runs."""

from __future__ import annotations

import tomllib

from tests.support.paths import ROOT

SDK = "workers-runtime-sdk"


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_vendored_runtime_sdk_is_the_version_the_harness_runs() -> None:
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    declared = _pins(project["dependencies"])
    harness = _pins((ROOT / "tests/worker/harness/requirements.txt").read_text().splitlines())
    assert SDK in declared, "pin workers-runtime-sdk in [project] dependencies (pywrangler)"
    assert declared[SDK] == harness[SDK]
    # the Worker's own dependencies are all in the harness's set
    for requirement in project["dependencies"]:
        name = requirement.split(">", 1)[0].split("=", 1)[0].split("<", 1)[0].strip().lower()
        assert name in harness, name
