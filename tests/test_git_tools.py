"""Host-side git tools on real repositories, including one whose config tries to run a program."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from termagent import gitsafe
from termagent.config import DEFAULTS, Config
from termagent.tools.base import ToolContext, ToolResult
from termagent.tools.git_tools import GitCommit, GitDiff, GitLog, GitStatus
from termagent.tools.registry import ToolRegistry
from termagent.tools.workspace import ReadLedger

REGISTRY = ToolRegistry([GitStatus(), GitDiff(), GitLog(), GitCommit()])


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test Person")
    git(root, "config", "user.email", "test@example.invalid")
    return root


async def call(root: Path, name: str, **args: Any) -> ToolResult:
    ctx = ToolContext(root=root, ledger=ReadLedger(), config=Config(copy.deepcopy(DEFAULTS)))
    return await REGISTRY.call(name, args, ctx)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "repo")
    (root / "a.txt").write_text("one\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "initial")
    return root


async def test_status_diff_log_on_a_plain_repo(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    (repo / "new.txt").write_text("fresh\n")
    status = await call(repo, "git_status")
    assert status.output.splitlines() == ["## main", " M a.txt", "?? new.txt"]
    diff = await call(repo, "git_diff")
    assert "a.txt | 2 +-" in diff.output and "-one\n+two" in diff.output
    assert (await call(repo, "git_diff", staged=True)).output == "No staged changes."
    log = await call(repo, "git_log")
    assert log.output.endswith("Test Person: initial")


async def test_commit_without_paths_takes_tracked_changes_only(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    (repo / "untracked.txt").write_text("keep me out\n")
    result = await call(repo, "git_commit", message="Update a\n\nBody line.")
    assert result.ok, result.output
    sha = git(repo, "rev-parse", "HEAD").strip()
    assert sha in result.output and "a.txt" in result.output
    assert git(repo, "show", "--format=%B", "-s", "HEAD").strip() == "Update a\n\nBody line."
    assert git(repo, "ls-files").split() == ["a.txt"]
    assert "?? untracked.txt" in git(repo, "status", "--short")


async def test_commit_with_paths_commits_exactly_those(repo: Path) -> None:
    (repo / "a.txt").write_text("changed but not committed\n")
    (repo / "b.txt").write_text("new file\n")
    result = await call(repo, "git_commit", message="Add b", paths=["b.txt"])
    assert result.ok, result.output
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["b.txt"]
    assert " M a.txt" in git(repo, "status", "--short")


async def test_commit_in_a_fresh_repo(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "fresh")
    assert (await call(root, "git_log")).output == "No commits yet."
    (root / "x.py").write_text("x = 1\n")
    assert (await call(root, "git_commit", message="nothing tracked")).error_type == "nothing_to_commit"
    assert (await call(root, "git_commit", message="first", paths=["x.py"])).ok
    assert git(root, "log", "--format=%s").strip() == "first"


async def test_commit_errors_are_results(repo: Path, tmp_path: Path) -> None:
    assert (await call(repo, "git_commit", message="none")).error_type == "nothing_to_commit"
    assert (await call(repo, "git_commit", message="  ")).error_type == "invalid_input"
    missing = await call(repo, "git_commit", message="m", paths=["nope.txt"])
    assert missing.error_type == "git_error" and "nope.txt" in json.loads(missing.output)["error"]["message"]
    assert (await call(repo, "git_commit", message="m", paths=["../x"])).error_type == "outside_workspace"
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("git_status", "git_diff", "git_log"):
        assert (await call(plain, name)).error_type == "not_a_git_repo"


async def test_pathspec_magic_is_taken_literally(repo: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    result = await call(repo, "git_diff", path=":(glob)**")
    assert result.ok and result.output == "No unstaged changes in :(glob)**."


async def test_log_limits(repo: Path) -> None:
    for i in range(5):
        (repo / "a.txt").write_text(f"v{i}\n")
        git(repo, "commit", "-q", "-am", f"change {i}")
    (repo / "other.txt").write_text("o\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-q", "-m", "other")
    assert len((await call(repo, "git_log", max_count=3)).output.splitlines()) == 3
    assert (await call(repo, "git_log", path="other.txt")).output.endswith("Test Person: other")


def plant_traps(root: Path, canary: Path) -> None:
    """Config, attributes and hooks that run a program if host git ever honours them."""
    trap = root / "trap.sh"
    trap.write_text(f'#!/bin/sh\necho "$0 $*" >> {canary}\ncat\n')
    trap.chmod(0o755)
    settings = {
        "core.fsmonitor": str(trap),
        "core.pager": str(trap),
        "pager.log": str(trap),
        "core.editor": str(trap),
        "diff.external": str(trap),
        "diff.conv.textconv": str(trap),
        "filter.evil.clean": str(trap),
        "filter.evil.smudge": str(trap),
        "filter.we=ird.clean": str(trap),
        "filter.proc.process": str(trap),
        "gpg.program": str(trap),
        "commit.gpgSign": "true",
        "log.showSignature": "true",
    }
    for key, value in settings.items():
        git(root, "config", key, value)
    (root / ".gitattributes").write_text("*.txt filter=evil diff=conv\n*.md filter=we=ird\n*.dat filter=proc\n")
    for hook in ("pre-commit", "commit-msg", "post-commit", "post-index-change", "reference-transaction"):
        path = root / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\necho {hook} >> {canary}\n")
        path.chmod(0o755)


async def test_repo_config_and_hooks_never_run_a_program(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    root = init_repo(tmp_path / "hostile")
    (root / "a.txt").write_text("one\n")
    (root / "b.md").write_text("doc\n")
    (root / "c.dat").write_text("data\n")
    plant_traps(root, canary)
    (root / "a.txt").write_text("two\n")
    results = [
        await call(root, "git_status"),
        await call(root, "git_commit", message="first", paths=["a.txt", "b.md", "c.dat", ".gitattributes"]),
        await call(root, "git_log"),
    ]
    (root / "a.txt").write_text("three\n")
    (root / "b.md").write_text("doc 2\n")
    results += [
        await call(root, "git_diff"),
        await call(root, "git_commit", message="second"),
        await call(root, "git_diff", staged=True),
        await call(root, "git_log", path="a.txt"),
    ]
    assert all(r.ok for r in results), [r.output for r in results if not r.ok]
    assert "-two\n+three" in results[3].output
    assert not canary.exists(), canary.read_text()
    assert git(root, "show", "HEAD:a.txt") == "three\n", "content committed as is, no clean filter"


async def test_traps_fire_with_plain_git(tmp_path: Path) -> None:
    """The planted traps are real: without the hardening, plain git runs them."""
    canary = tmp_path / "canary"
    root = init_repo(tmp_path / "hostile")
    (root / "a.txt").write_text("one\n")
    plant_traps(root, canary)
    git(root, "add", "a.txt")
    assert canary.exists()


def test_open_repo_runs_git_hardened(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    root = init_repo(tmp_path / "hostile")
    (root / "a.txt").write_text("one\n")
    plant_traps(root, canary)
    repo = gitsafe.open_repo(root)
    assert "a.txt" in repo.git.status("--short")
    repo.git.add("a.txt")
    repo.git.diff("--cached", *gitsafe.DIFF_SAFETY)
    assert not canary.exists()


def test_global_identity_is_kept_and_local_identity_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Global Person\n\temail = global@example.invalid\n"
        f"[core]\n\tpager = touch /tmp/never\n\texcludesFile = {home}/ignore\n"
    )
    (home / "ignore").write_text("*.swp\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    assert gitsafe.run_git(root, "config", "user.name").stdout.strip() == "Global Person"
    assert gitsafe.run_git(root, "config", "core.pager").stdout.strip() == "cat"
    (root / "notes.swp").write_text("editor swap file")
    assert "notes.swp" not in gitsafe.run_git(root, "status", "--short").stdout
    git(root, "config", "user.name", "Local Person")
    assert gitsafe.run_git(root, "config", "user.name").stdout.strip() == "Local Person"


def test_inherited_git_variables_are_scrubbed(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "/bin/false")
    assert gitsafe.is_git_repo(repo)
    (repo / "a.txt").write_text("two\n")
    out = gitsafe.run_git(repo, "diff", *gitsafe.DIFF_SAFETY).stdout
    assert "+two" in out


def test_run_git_reports_failures(tmp_path: Path) -> None:
    with pytest.raises(gitsafe.GitError, match="not a git repository"):
        gitsafe.run_git(tmp_path, "log")
    assert gitsafe.run_git(tmp_path, "log", check=False).returncode != 0
    assert not gitsafe.is_git_repo(tmp_path)
