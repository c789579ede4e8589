"""Layered config: later layers win, and every mistake names where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from termagent.config import ConfigError, load_config, user_config_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_project_overrides_user_and_env_overrides_project(tmp_path, monkeypatch):
    write(user_config_path(), '[model]\nmain = "user-model"\nsubagent = "user-sub"\n')
    write(tmp_path / ".termagent" / "config.toml", '[model]\nmain = "project-model"\n')
    config = load_config(tmp_path)
    assert config.model_for("main") == "project-model"
    assert config.model_for("subagent") == "user-sub"
    monkeypatch.setenv("TERMAGENT_MODEL", "env-model")
    assert load_config(tmp_path).model_for("main") == "env-model"
    flagged = load_config(tmp_path).with_overrides({"model": {"main": "flag-model"}})
    assert flagged.model_for("main") == "flag-model"


def test_untrusted_project_file_is_not_read(tmp_path):
    write(tmp_path / ".termagent" / "config.toml", '[permissions]\nmode = "auto"\n')
    assert load_config(tmp_path, include_project=False).get("permissions", "mode") == "ask"


def test_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path / ".termagent" / "config.toml", '[limits]\nmax_turns = 3\nmax_cost_usd = = 2\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert f"{tmp_path / '.termagent' / 'config.toml'}:3" in str(info.value)


@pytest.mark.parametrize("text, needle", [
    ('[limits]\nmax_turnz = 3\n', "unknown key limits.max_turnz"),
    ('[nope]\nx = 1\n', "unknown section [nope]"),
    ('[limits]\nmax_turns = "ten"\n', "limits.max_turns should be int"),
    ('[permissions]\nmode = "yolo"\n', "permissions.mode 'yolo'"),
    ('[sandbox]\nbackend = "vm"\n', "sandbox.backend"),
])
def test_semantic_errors_say_what_is_wrong(tmp_path, text, needle):
    write(user_config_path(), text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert needle in str(info.value)


def test_bad_env_value_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TERMAGENT_MAX_TURNS", "many")
    with pytest.raises(ConfigError, match="TERMAGENT_MAX_TURNS"):
        load_config(tmp_path)
