"""Sandbox settings that need no engine: root refusal, reaper ownership, config keys."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from termagent.config import ConfigError, load_config
from termagent.sandbox.docker_settings import (
    LABEL_HOST,
    LABEL_PID,
    LABEL_PIDNS,
    LABEL_SESSION,
    LABEL_TEST_RUN,
    SandboxRootRefused,
    limits_from_config,
    sandbox_user,
)
from termagent.sandbox.reaper import is_stale, owner_labels, pid_namespace
from tests.docker_support import make_config


async def _dead_pid() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


def _labels(pid: int, **extra: str) -> dict[str, str]:
    return {LABEL_SESSION: "s", LABEL_PID: str(pid), LABEL_HOST: socket.gethostname(),
            LABEL_PIDNS: pid_namespace(), **extra}


async def test_the_reaper_takes_only_dead_owners_of_this_run_host_and_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERMAGENT_TEST_RUN", "run-a")
    dead = await _dead_pid()
    assert is_stale(_labels(dead, **{LABEL_TEST_RUN: "run-a"}))
    assert not is_stale(_labels(dead, **{LABEL_TEST_RUN: "run-b"})), "another run's container"
    assert not is_stale(_labels(dead)), "a real session's container, seen from a test run"
    assert not is_stale(_labels(os.getpid(), **{LABEL_TEST_RUN: "run-a"})), "a live owner"
    assert not is_stale({**_labels(dead, **{LABEL_TEST_RUN: "run-a"}), LABEL_HOST: "elsewhere"})
    assert not is_stale({**_labels(dead, **{LABEL_TEST_RUN: "run-a"}), LABEL_PIDNS: "pid:[1]"})
    assert owner_labels("s", "/w")[LABEL_TEST_RUN] == "run-a"
    monkeypatch.delenv("TERMAGENT_TEST_RUN")
    assert is_stale(_labels(dead)) and LABEL_TEST_RUN not in owner_labels("s", "/w")


@pytest.mark.skipif(os.getuid() != 0, reason="the refusal concerns a host user of uid 0")
def test_root_is_refused_with_the_ways_to_allow_it() -> None:
    with pytest.raises(SandboxRootRefused) as refused:
        sandbox_user(limits_from_config(make_config(allow_root=False)))
    assert "--sandbox-allow-root" in str(refused.value) and "sandbox.allow_root" in str(refused.value)
    assert sandbox_user(limits_from_config(make_config(allow_root=True))) == "0:0"


def test_a_non_root_user_runs_as_itself() -> None:
    if os.getuid() == 0:
        pytest.skip("needs a non-root host user")
    assert sandbox_user(limits_from_config(make_config(allow_root=False))) == f"{os.getuid()}:{os.getgid()}"


def test_a_project_cannot_allow_root_but_may_allow_ptrace(tmp_path: Path) -> None:
    (tmp_path / ".termagent").mkdir()
    config = tmp_path / ".termagent" / "config.toml"
    config.write_text("[sandbox]\nallow_ptrace = true\n")
    assert load_config(tmp_path).get("sandbox", "allow_ptrace") is True
    config.write_text("[sandbox]\nallow_root = true\n")
    with pytest.raises(ConfigError, match="allow_root cannot be set by a project"):
        load_config(tmp_path)


def test_the_environment_can_allow_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMAGENT_SANDBOX_ALLOW_ROOT", "0")
    assert load_config(tmp_path).get("sandbox", "allow_root") is False
    monkeypatch.setenv("TERMAGENT_SANDBOX_ALLOW_ROOT", "yes")
    assert load_config(tmp_path).get("sandbox", "allow_root") is True
    monkeypatch.setenv("TERMAGENT_SANDBOX_ALLOW_ROOT", "maybe")
    with pytest.raises(ConfigError, match="TERMAGENT_SANDBOX_ALLOW_ROOT"):
        load_config(tmp_path)


def test_the_git_scan_finds_new_repositories_however_they_appear(tmp_path: Path) -> None:
    from termagent.sandbox.git_scan import GitScan

    (tmp_path / ".git").mkdir()
    (tmp_path / "src" / "deep").mkdir(parents=True)
    scan = GitScan(tmp_path)
    assert scan.relative() == {".git"} and scan.complete
    assert scan.refresh() == set()
    (tmp_path / "src" / "deep" / "new" / ".git").mkdir(parents=True)
    assert scan.relative(scan.refresh()) == {"src/deep/new/.git"}
    outside = tmp_path.parent / (tmp_path.name + "-elsewhere")
    (outside / "moved" / ".git").mkdir(parents=True)
    (outside / "moved").rename(tmp_path / "src" / "moved")
    (tmp_path / "src" / "deep" / "pointer").mkdir()
    (tmp_path / "src" / "deep" / "pointer" / ".git").write_text("gitdir: /x\n")
    assert scan.relative(scan.refresh()) == {"src/moved/.git", "src/deep/pointer/.git"}
    (tmp_path / "src" / "link").symlink_to(outside)
    (outside / "other" / ".git").mkdir(parents=True)
    assert scan.refresh() == set(), "a symlink is never followed"
    assert not GitScan(tmp_path, limit=2).complete
