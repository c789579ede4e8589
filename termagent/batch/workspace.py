"""A task's private copy of its workspace, and the diff of what the agent changed in it.

A directory is copied whole (uncommitted changes and untracked files included), so the
source is never touched; a git URL is cloned and the ref checked out detached. Either way
the copy is a git repository (a plain directory gets `git init` and one baseline commit),
which gives the agent its checkpoints and gives us a baseline tree taken through a private
index: the final diff is exactly the agent's work, whatever the copy's HEAD and index say.

Everything after the clone goes through termagent's hardened git (gitsafe/plumbing): the
task's repository is untrusted, so its config, attributes and hooks never run a program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from termagent import gitsafe
from termagent.batch.tasks import Workspace
from termagent.git.plumbing import Plumbing, RepoInfo, repo_info, scratch_index
from termagent.gitsafe import GitError

CLONE_TIMEOUT_S = 900.0
# transports a task file may name; `ext::` (runs a command) and the rest stay off
CLONE_PROTOCOLS = ("file", "https", "http", "ssh", "git")


class WorkspaceError(Exception):
    """The copy could not be made; the message is fit to put in a result line."""


@dataclass(frozen=True)
class Diff:
    text: str
    files: int
    insertions: int
    deletions: int


def prepare(source: Workspace, dest: Path) -> str:
    """Make `dest` the task's copy of `source`; return the baseline tree id."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if source.git:
            _clone(source.git, source.ref, dest)
        else:
            _copy(Path(source.path or ""), dest)
        return snapshot(_info(dest))
    except (GitError, OSError) as exc:
        raise WorkspaceError(f"cannot prepare workspace {source.describe()}: {exc}") from None


def snapshot(info: RepoInfo) -> str:
    """The tree of every tracked and untracked, not ignored, file, via a throw-away index."""
    with scratch_index(info) as index:
        return Plumbing(info, index).stage_worktree()


def final_diff(dest: Path, baseline: str) -> Diff:
    """What changed in the copy since `baseline` (binary-safe, nested repositories left out)."""
    info = _info(dest)
    after = snapshot(info)
    git = Plumbing(info)
    text = git.run("diff", "--binary", "--full-index", baseline, after).stdout
    files = insertions = deletions = 0
    for row in git.run("diff", "--numstat", baseline, after).stdout.splitlines():
        added, removed, _ = (row.split("\t", 2) + ["", ""])[:3]
        files += 1
        insertions += int(added) if added.isdigit() else 0
        deletions += int(removed) if removed.isdigit() else 0
    return Diff(text, files, insertions, deletions)


def _copy(source: Path, dest: Path) -> None:
    if not source.is_dir():
        raise WorkspaceError(f"workspace {source} is not a directory" if source.exists()
                             else f"workspace {source} does not exist")
    shutil.copytree(source, dest, symlinks=True, ignore=_skip_inside(dest))
    if (dest / ".git").is_dir() and not (dest / ".git").is_symlink():
        return
    if os.path.lexists(dest / ".git"):  # a worktree's or submodule's pointer: it would write to the source repo
        (dest / ".git").unlink()
    gitsafe.run_git(dest, "init", "--quiet")
    info = _info(dest)
    plumbing = Plumbing(info, identity=True)
    plumbing.stage_worktree()
    plumbing.run("commit", "--quiet", "--allow-empty", "--no-verify", "-m", "termagent batch: the workspace as given")


def _skip_inside(dest: Path) -> Callable[[str, list[str]], set[str]]:
    """An ignore hook that leaves out the batch's own work dir when it lies inside the source."""
    target = dest.resolve()

    def skip(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if target.is_relative_to(Path(directory, name).resolve())}

    return skip


def _clone(url: str, ref: str | None, dest: Path) -> None:
    """Clone with the person's own git credentials but no hooks, no submodules, no `ext::`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TERMAGENT_", "GIT_"))}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    argv = ["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never"]
    for name in CLONE_PROTOCOLS:
        argv += ["-c", f"protocol.{name}.allow=always"]
    argv += ["clone", "--quiet", "--no-checkout", "--no-recurse-submodules", "--", url, str(dest)]
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=CLONE_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"git clone {url} timed out after {CLONE_TIMEOUT_S:.0f}s") from None
    if proc.returncode != 0:
        raise WorkspaceError(f"git clone {url} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    commit = _resolve(dest, ref or "HEAD")
    gitsafe.run_git(dest, "checkout", "--quiet", "--detach", commit)


def _resolve(dest: Path, ref: str) -> str:
    """A branch, tag or commit of the clone as a commit id (remote branches included)."""
    for candidate in (ref, f"origin/{ref}"):
        proc = gitsafe.run_git(dest, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}",
                               check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    raise WorkspaceError(f"ref {ref!r} is not a branch, tag or commit of the clone")


def _info(dest: Path) -> RepoInfo:
    info = repo_info(dest)
    if info is None or info.top != dest.resolve():
        raise WorkspaceError(f"{dest} is not the top of its own git repository")
    return info
