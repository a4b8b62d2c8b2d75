"""One settings model for the local host (issue 13, finding 9): validated once, with one clear
line per bad value; `--help` made from the same fields; flag > variable > default."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from llm_api.cli import build_parser, main
from llm_api.settings import ConfigError, ServeSettings, Settings, StateSettings, load


def serve_help() -> str:
    commands = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    return commands.choices["serve"].format_help()


def test_a_bad_port_variable_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"LLM_API_PORT": "abc"}
    assert main(["serve", "--state-dir", str(tmp_path)], env=env) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "llm-api: LLM_API_PORT: Input should be a valid integer, unable to parse string as an "
        "integer (got 'abc')"
    ]


def test_the_installed_command_shows_no_traceback_for_a_bad_variable(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llm_api.cli", "serve", "--state-dir", str(tmp_path)],
        env={"LLM_API_PORT": "abc", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("llm-api: LLM_API_PORT: ")


def test_keys_validates_only_the_state_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"LLM_API_PORT": "abc", "LLM_API_BACKEND": "nope", "LLM_API_MAX_BODY_BYTES": "-1"}
    assert main(["keys", "list", "--state-dir", str(tmp_path)], env=env) == 0
    assert capsys.readouterr().out.startswith("KEY ID")


def test_a_bad_flag_is_named_as_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "x", "--state-dir", str(tmp_path)], env={}) == 2
    assert capsys.readouterr().err.startswith("llm-api: --port: Input should be a valid integer")


def test_every_bad_value_is_named_in_one_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"LLM_API_PORT": "abc", "LLM_API_MAX_BODY_BYTES": "-3", "ALLOWED_ORIGINS": "app"}
    assert main(["serve", "--state-dir", str(tmp_path)], env=env) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "LLM_API_PORT: " in line
    assert "LLM_API_MAX_BODY_BYTES: Input should be greater than 0 (got '-3')" in line
    assert "ALLOWED_ORIGINS: 'app' is not like https://app.example" in line


def test_a_flag_beats_its_variable_which_beats_the_default() -> None:
    flags = vars(build_parser().parse_args(["serve", "--port", "9001"]))
    assert load(ServeSettings, {"LLM_API_PORT": "9000"}, flags).port == 9001
    assert load(ServeSettings, {"LLM_API_PORT": "9000"}, {}).port == 9000
    assert load(ServeSettings, {}, {}).port == 8787
    # an unset flag is not in the namespace, so it never hides the variable
    assert "port" not in vars(build_parser().parse_args(["serve"]))


def test_an_empty_variable_means_its_default() -> None:
    settings = Settings.from_mapping({"LLM_API_MAX_BODY_BYTES": "", "ADMIN_TOKEN": "  "})
    assert settings == Settings()
    assert settings.admin_token is None


def test_values_are_parsed_once_into_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_mapping(
        {"ALLOWED_ORIGINS": "https://a.example/, https://b.example", "LLM_API_TOTAL_TIMEOUT": "2.5"}
    )
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.total_timeout_s == 2.5
    monkeypatch.setenv("HOME", "/home/someone")
    assert StateSettings.from_mapping({"LLM_API_STATE_DIR": "~/keys"}).state_dir == Path(
        "/home/someone/keys"
    )


def test_the_state_dir_defaults_to_dot_state_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert StateSettings().state_dir == tmp_path / ".state"


def test_each_backend_says_what_it_needs() -> None:
    with pytest.raises(ConfigError, match=r"^CLOUDFLARE_ACCOUNT_ID must be set for the workers-ai"):
        load(ServeSettings, {"LLM_API_BACKEND": "workers-ai", "CLOUDFLARE_API_TOKEN": "t"})
    with pytest.raises(ConfigError, match=r"^OPENAI_BASE_URL must be set for the openai backend"):
        load(ServeSettings, {"LLM_API_BACKEND": "openai", "OPENAI_BASE_URL": " "})
    with pytest.raises(ConfigError, match=r"^LLM_API_BACKEND: Input should be 'embedded'"):
        load(ServeSettings, {"LLM_API_BACKEND": "llama"})


def test_secrets_are_not_in_repr() -> None:
    serve = ServeSettings(
        backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-openai",
        cloudflare_account_id="acct", cloudflare_api_token="cf-token",
    )  # fmt: skip
    settings = Settings(admin_token="admin-secret")
    shown = repr(serve) + str(serve) + repr(settings) + str(settings)
    assert "acct" in shown  # not a secret
    for secret in ("sk-openai", "cf-token", "admin-secret"):
        assert secret not in shown


def test_help_names_every_variable_and_copies_nothing_by_hand() -> None:
    text = " ".join(serve_help().split())  # argparse wraps lines wherever it likes
    for model in (Settings, ServeSettings):
        for field in model.model_fields.values():
            assert field.alias is not None and field.alias in text, field.alias
            assert " ".join(str(field.description).split()) in text, field.alias
    assert "--max-connections N" in text and "(default 100; or LLM_API_MAX_CONNECTIONS)" in text
    assert "(default llama-4-scout-17b-16e-instruct)" in text
