"""Checkpoints and rewind on real git repositories in temp dirs."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import time
from pathlib import Path

import pytest

from termagent.git import (
    Checkpointer,
    auto_commit_turn,
    list_checkpoints,
    plan_rewind,
    rewind,
    undo_last,
)
from termagent.git.checkpoints import sessions_with_checkpoints
from termagent.git.refs import CheckpointError
from termagent.git.rewind_cli import rewind_command

IDENTITY = ("-c", "user.name=Test Person", "-c", "user.email=test@example.invalid")
BINARY = bytes(range(256)) * 40 + b"\x00\r\n\x00"


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(["git", *IDENTITY, *args], check=False, cwd=repo, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc.stdout


def make_repo(path: Path, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "keep.txt").write_text("keep\n")
    (path / "edit.txt").write_text("original\n")
    (path / "doomed.txt").write_text("will be deleted\n")
    (path / "image.bin").write_bytes(BINARY)
    (path / ".gitignore").write_text("build/\n")
    if commit:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "base")
    return path


def state(repo: Path) -> dict[str, str]:
    """Everything a checkpoint must leave alone."""
    return {
        "head": git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "stash": git(repo, "stash", "list"),
        "index": hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
        if (repo / ".git" / "index").exists() else "",
    }


async def test_round_trip_restores_edits_deletions_new_files_and_binaries(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "notes.txt").write_text("untracked before\n")
    git(repo, "stash", "list")
    before = state(repo)
    checkpointer = Checkpointer(repo, "s1")
    assert await checkpointer.snapshot("before agent") is not None

    (repo / "edit.txt").write_text("changed by agent\n")
    (repo / "doomed.txt").unlink()
    (repo / "image.bin").write_bytes(b"not an image")
    (repo / "created").mkdir()
    (repo / "created" / "new.txt").write_text("new\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_bytes(b"ignored output")

    plan = plan_rewind(repo, "s1", 1)
    assert set(plan.modified) == {"edit.txt", "image.bin"}
    assert plan.restored == ("doomed.txt",)
    assert plan.deleted == ("created/new.txt",)

    result = rewind(repo, "s1", 1)
    assert (repo / "edit.txt").read_text() == "original\n"
    assert (repo / "doomed.txt").read_text() == "will be deleted\n"
    assert (repo / "image.bin").read_bytes() == BINARY
    assert not (repo / "created").exists()
    assert (repo / "notes.txt").read_text() == "untracked before\n"
    assert (repo / "build" / "out.o").read_bytes() == b"ignored output"
    assert state(repo) == before
    assert git(repo, "diff", "--cached", "--name-only") == "staged.txt\n"

    rewind(repo, "s1", result.backup.n)
    assert (repo / "created" / "new.txt").read_text() == "new\n"
    assert (repo / "image.bin").read_bytes() == b"not an image"
    assert not (repo / "doomed.txt").exists()
    assert state(repo) == before


async def test_unchanged_tree_makes_no_new_checkpoint(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkpointer = Checkpointer(repo, "s1")
    first = await checkpointer.snapshot("one")
    assert first is not None
    assert await checkpointer.snapshot("two") is None
    (repo / "edit.txt").write_text("x\n")
    await checkpointer("edit.txt")
    checkpoints = list_checkpoints(repo, "s1")
    assert [c.n for c in checkpoints] == [1, 2]
    assert checkpoints[1].reason == "before changing edit.txt"
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/termagent/").split() == [
        "refs/termagent/checkpoints/s1/1", "refs/termagent/checkpoints/s1/2"]


async def test_repo_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "fresh", commit=False)
    checkpointer = Checkpointer(repo, "s1")
    assert await checkpointer.snapshot("start") is not None
    (repo / "keep.txt").unlink()
    (repo / "extra.bin").write_bytes(BINARY[::-1])
    rewind(repo, "s1", 1)
    assert (repo / "keep.txt").read_text() == "keep\n"
    assert not (repo / "extra.bin").exists()
    assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""
    assert not (repo / ".git" / "index").exists()


async def test_outside_a_repository_is_disabled_with_a_reason(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    checkpointer = Checkpointer(plain, "s1")
    assert not checkpointer.enabled
    assert "not inside a git repository" in checkpointer.disabled_reason
    assert await checkpointer.snapshot("x") is None
    assert list_checkpoints(plain, "s1") == []
    off = Checkpointer(make_repo(tmp_path / "repo"), "s2", enabled=False)
    assert not off.enabled and "checkpoints.enabled" in off.disabled_reason


async def test_undo_walks_back_one_change_at_a_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkpointer = Checkpointer(repo, "s1")
    await checkpointer("edit.txt")
    (repo / "edit.txt").write_text("step one\n")
    await checkpointer("added.txt")
    (repo / "added.txt").write_text("step two\n")
    await checkpointer("")  # a shell command after the change: same tree as nothing, or a new point

    message = await undo_last(repo, "s1")
    assert message.startswith("restored checkpoint 2")
    assert (repo / "edit.txt").read_text() == "step one\n" and not (repo / "added.txt").exists()
    await undo_last(repo, "s1")
    assert (repo / "edit.txt").read_text() == "original\n"
    assert (await undo_last(repo, "s1")).startswith("nothing to undo")


async def test_a_same_size_rewrite_within_the_second_it_was_staged_is_seen(tmp_path: Path) -> None:
    """git trusts an index entry's stat data unless the entry is as new as the index file
    ("racy git"). Undo and rewind stage the files in a copy of the session's index; a copy
    stamped with the time of copying made a file rewritten within the second it was staged
    look unchanged, and a later undo picked the wrong checkpoint. The timestamps are moved
    back instead of waiting for the second to pass."""
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "core.trustctime", "false")  # within one second the ctime would not differ either
    edit = repo / "edit.txt"
    staged_at = time.time_ns() - 10 * 10**9
    os.utime(edit, ns=(staged_at, staged_at))
    checkpointer = Checkpointer(repo, "s1")
    await checkpointer("edit.txt")
    with edit.open("r+") as same_file:
        same_file.write("step one\n")  # as long as "original\n"
    assert checkpointer.index_path is not None
    for path in (edit, checkpointer.index_path):
        os.utime(path, ns=(staged_at, staged_at))  # rewritten, and the index written, in the staged second
    assert plan_rewind(repo, "s1", 1).modified == ("edit.txt",)


async def test_rewind_stays_inside_a_subdirectory_workspace(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    workspace = repo / "pkg"
    workspace.mkdir()
    (workspace / "mod.py").write_text("a = 1\n")
    checkpointer = Checkpointer(workspace, "s1")
    await checkpointer.snapshot("start")
    (workspace / "mod.py").write_text("a = 2\n")
    (workspace / "new.py").write_text("b = 1\n")
    (repo / "edit.txt").write_text("outside, by the person\n")
    (repo / "outside-new.txt").write_text("by the person\n")
    rewind(workspace, "s1", 1)
    assert (workspace / "mod.py").read_text() == "a = 1\n"
    assert not (workspace / "new.py").exists()
    assert (repo / "edit.txt").read_text() == "outside, by the person\n"
    assert (repo / "outside-new.txt").exists()


async def test_repository_filters_never_run_during_a_snapshot(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    marker = tmp_path / "pwned"
    git(repo, "config", "filter.evil.clean", f"touch {marker}; cat")
    (repo / ".gitattributes").write_text("*.txt filter=evil\n")
    (repo / "edit.txt").write_text("trigger\n")
    checkpointer = Checkpointer(repo, "s1")
    assert await checkpointer.snapshot("x") is not None
    plan_rewind(repo, "s1", 1)
    assert not marker.exists()


def test_bad_session_ids_are_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for bad in ("../x", "a/b", "", "x.lock", "-rf"):
        with pytest.raises(CheckpointError):
            Checkpointer(repo, bad)


async def test_rewind_command_shows_the_plan_and_needs_consent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkpointer = Checkpointer(repo, "abc123")
    await checkpointer.snapshot("before the agent")
    (repo / "edit.txt").write_text("agent\n")
    (repo / "new.txt").write_text("agent\n")
    assert sessions_with_checkpoints(repo)[0][0] == "abc123"

    out = io.StringIO()
    assert rewind_command(repo, "abc", 1, yes=False, list_only=False, out=out) == 2  # no terminal, no --yes
    assert "M edit.txt" in out.getvalue() and "D new.txt" in out.getvalue()
    assert (repo / "new.txt").exists()

    out = io.StringIO()
    assert rewind_command(repo, None, None, yes=True, list_only=False, out=out) == 0
    assert (repo / "edit.txt").read_text() == "original\n" and not (repo / "new.txt").exists()
    assert "--to 2" in out.getvalue()
    assert rewind_command(repo, "nope", None, yes=True, list_only=False, out=io.StringIO()) == 2


def test_auto_commit_turn_commits_the_turn_with_a_generated_message(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    assert auto_commit_turn(repo, "nothing happened") is None
    (repo / "edit.txt").write_text("fixed\n")
    (repo / "added.py").write_text("print('hi')\n")
    (repo / "doomed.txt").unlink()
    (tmp_path / ".gitconfig").write_text("[user]\n\tname = Test Person\n\temail = test@example.invalid\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    commit = auto_commit_turn(repo, "## Fixed the `parser` crash\n\nThe tokenizer now handles tabs.")
    assert commit == git(repo, "rev-parse", "HEAD").strip()
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Fixed the parser crash\n\nThe tokenizer now handles tabs.")
    assert "- added.py" in message and "- doomed.txt" in message
    assert git(repo, "status", "--porcelain") == ""


async def test_cli_rewind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from termagent.cli import main

    repo = make_repo(tmp_path / "repo")
    await Checkpointer(repo, "cli-session").snapshot("before")
    (repo / "edit.txt").write_text("agent\n")
    assert main(["-C", str(repo), "rewind", "--list"]) == 0
    assert "before" in capsys.readouterr().out and (repo / "edit.txt").read_text() == "agent\n"
    assert main(["-C", str(repo), "rewind", "cli", "--to", "1", "--yes"]) == 0
    assert (repo / "edit.txt").read_text() == "original\n"
    assert main(["-C", str(repo), "rewind", "--to", "9", "--yes"]) == 2


async def test_a_stale_lock_on_the_private_index_does_not_stop_snapshots(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkpointer = Checkpointer(repo, "s1")
    await checkpointer.snapshot("one")
    assert checkpointer.index_path is not None
    checkpointer.index_path.with_name(checkpointer.index_path.name + ".lock").write_text("")
    (repo / "edit.txt").write_text("after a crash\n")
    assert await checkpointer.snapshot("two") is not None
    rewind(repo, "s1", 1)
    assert (repo / "edit.txt").read_text() == "original\n"


async def test_files_that_became_ignored_leave_later_snapshots_and_survive_a_rewind(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "committed.log").write_text("tracked though ignored later\n")
    git(repo, "add", "committed.log")
    git(repo, "commit", "-q", "-m", "log")
    checkpointer = Checkpointer(repo, "s1")
    assert await checkpointer.snapshot("before npm install") is not None
    (repo / "node_modules" / "pkg").mkdir(parents=True)
    (repo / "node_modules" / "pkg" / "index.js").write_text("module.exports = 1\n")
    assert await checkpointer.snapshot("before writing .gitignore") is not None
    (repo / "node_modules" / "pkg" / "index.js").write_text("module.exports = 2\n")
    (repo / ".gitignore").write_text("build/\nnode_modules/\n*.log\n")
    (repo / "committed.log").write_text("edited by agent\n")
    (repo / "edit.txt").write_text("agent edit\n")
    assert await checkpointer.snapshot("before bash") is not None

    plan = plan_rewind(repo, "s1", 1)
    assert "node_modules/pkg/index.js" not in plan.deleted
    assert set(plan.modified) == {".gitignore", "edit.txt", "committed.log"}
    rewind(repo, "s1", 1)
    assert (repo / "node_modules" / "pkg" / "index.js").read_text() == "module.exports = 2\n"
    assert (repo / "edit.txt").read_text() == "original\n"
    assert (repo / "committed.log").read_text() == "tracked though ignored later\n"
