"""Put the workspace back to a checkpoint: plan first (what will change), then apply.

A rewind first snapshots the current state as a checkpoint of its own, so the rewind
itself can be undone and files it deletes (including untracked ones) stay recoverable.
Only paths inside the workspace scope that a snapshot can see are touched: ignored
files (build outputs, virtualenvs) are never deleted, but ignored execution-bearing ones
(`.vscode/`, `.envrc`, hooks, ...) are in snapshots and so are restored or removed, and a
nested `.git` newer than the checkpoint is moved aside (a tree cannot hold it). The
person's index, HEAD, branch and stash stay as they were.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from termagent.git.refs import (
    KIND_CHANGE,
    KIND_REWIND,
    Checkpoint,
    CheckpointError,
    check_session_id,
    private_index,
    read_checkpoints,
    record_checkpoint,
)
from termagent.git.execution import Manifest, manifest
from termagent.git.plumbing import Plumbing, RepoInfo, repo_info, scratch_index
from termagent.gitsafe import DIFF_SAFETY, GitError

GITLINK = "160000"


@dataclass(frozen=True)
class RewindPlan:
    """What a rewind to `target` changes, relative to the files as they are now."""

    session_id: str
    target: Checkpoint
    current_tree: str
    modified: tuple[str, ...]  # exist now with other content: get the checkpoint's content
    restored: tuple[str, ...]  # deleted since the checkpoint: come back
    deleted: tuple[str, ...]  # created since the checkpoint: removed
    moved_aside: tuple[str, ...] = ()  # nested repositories whose `.git` is newer than the checkpoint
    repointed: tuple[tuple[str, str], ...] = ()  # (repository, pointer text): `.git` files put back

    @property
    def empty(self) -> bool:
        return not (self.modified or self.restored or self.deleted or self.moved_aside or self.repointed)

    def summary(self) -> str:
        text = f"{len(self.modified)} modified, {len(self.restored)} restored, {len(self.deleted)} deleted"
        nested = len(self.moved_aside) + len(self.repointed)
        return text + (f", {nested} nested .git put back or moved aside" if nested else "")

    def lines(self) -> list[str]:
        """One line per file, marked like `git status --short` would: M, A (comes back), D;
        then X for a nested `.git` moved aside and P for a `.git` pointer file put back."""
        return ([f"M {path}" for path in self.modified] + [f"A {path}" for path in self.restored]
                + [f"D {path}" for path in self.deleted] + [f"X {path}/.git" for path in self.moved_aside]
                + [f"P {path}/.git" for path, _ in self.repointed])


@dataclass(frozen=True)
class RewindResult:
    plan: RewindPlan
    backup: Checkpoint  # the state just before the rewind: rewinding to it undoes this one


def _require_repo(root: Path | str) -> RepoInfo:
    info = repo_info(root)
    if info is None:
        raise CheckpointError(f"{root} is not inside a git repository, so it has no checkpoints")
    return info


def _find(p: Plumbing, session_id: str, n: int) -> Checkpoint:
    checkpoints = read_checkpoints(p, check_session_id(session_id))
    for checkpoint in checkpoints:
        if checkpoint.n == n:
            return checkpoint
    if not checkpoints:
        raise CheckpointError(f"session {session_id} has no checkpoints in this repository")
    raise CheckpointError(f"session {session_id} has no checkpoint {n} "
                          f"(it has {checkpoints[0].n}..{checkpoints[-1].n})")


def current_state(info: RepoInfo, session_id: str) -> tuple[str, Manifest]:
    """The tree a snapshot would take now and the nested repositories it leaves out."""
    seed = private_index(info, session_id)
    with scratch_index(info, seed if seed.is_file() else info.git_dir / "index") as index:
        p = Plumbing(info, index=index)
        tree = p.stage_worktree()
        return tree, manifest(info.top, p.nested)


def current_tree(info: RepoInfo, session_id: str) -> str:
    """The tree a snapshot would take now, without recording it."""
    return current_state(info, session_id)[0]


def _nested_changes(now: Manifest, then: Manifest | None) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Which nested `.git` entries to move aside, and which pointer files to write back.

    A `.git` that was not there at the checkpoint (the sandbox ran `git init`, or planted a
    pointer) is moved aside; a pointer whose text changed is moved aside and rewritten. A
    checkpoint from before manifests were kept (`then` None) changes nothing here.
    """
    if then is None:
        return (), ()
    before = dict(then)
    moved = tuple(path for path, pointer in now if path not in before or pointer != before[path])
    repointed = tuple((path, text) for path in moved if (text := before.get(path)) is not None)
    return moved, repointed


def _diff(p: Plumbing, current: str, target: str) -> tuple[list[str], list[str], list[str]]:
    out = p.run("diff-tree", "-r", "-z", "--no-renames", *DIFF_SAFETY, current, target, "--", p.info.scope).stdout
    fields = out.split("\0")
    modified: list[str] = []
    restored: list[str] = []
    deleted: list[str] = []
    for meta, path in zip(fields[0::2], fields[1::2]):
        parts = meta.lstrip(":").split()
        if len(parts) < 5 or GITLINK in (parts[0], parts[1]):
            continue
        status = parts[4][:1]
        {"A": restored, "D": deleted}.get(status, modified).append(path)
    return modified, restored, deleted


def _plan(info: RepoInfo, session_id: str, to_n: int, state: tuple[str, Manifest]) -> RewindPlan:
    p = Plumbing(info)
    tree, nested = state
    target = _find(p, session_id, to_n)
    modified, restored, deleted = _diff(p, tree, target.tree)
    moved, repointed = _nested_changes(nested, target.nested)
    return RewindPlan(session_id, target, tree, tuple(modified), tuple(restored), tuple(deleted), moved, repointed)


def plan_rewind(root: Path | str, session_id: str, to_n: int) -> RewindPlan:
    """What `rewind(root, session_id, to_n)` would change now; changes nothing."""
    info = _require_repo(root)
    return _plan(info, session_id, to_n, current_state(info, check_session_id(session_id)))


def rewind(root: Path | str, session_id: str, to_n: int, expect_tree: str | None = None) -> RewindResult:
    """Restore the workspace's files to checkpoint `to_n`; the state before is kept as a checkpoint.

    `expect_tree` is the `current_tree` of a plan shown to a person: if the files changed
    since, nothing is done, so what they agreed to is what happens.
    """
    info = _require_repo(root)
    tree, nested = state = current_state(info, check_session_id(session_id))
    if expect_tree is not None and tree != expect_tree:
        raise CheckpointError("the files changed since the plan was shown; nothing was rewound, run it again")
    plan = _plan(info, session_id, to_n, state)
    backup = _backup(info, session_id, tree, nested, to_n)
    _apply(info, plan)
    return RewindResult(plan, backup)


def _backup(info: RepoInfo, session_id: str, tree: str, nested: Manifest, to_n: int) -> Checkpoint:
    p = Plumbing(info, identity=True)
    existing = read_checkpoints(p, session_id)
    previous = existing[-1] if existing else None
    if previous is not None and previous.tree == tree and previous.nested == nested:
        return previous
    return record_checkpoint(p, session_id, tree, KIND_REWIND, f"before rewinding to checkpoint {to_n}", previous,
                             nested)


def _apply(info: RepoInfo, plan: RewindPlan) -> None:
    for path in plan.deleted:
        _remove(info, path)
    _put_back_nested(info, plan)
    writes = plan.modified + plan.restored
    if not writes:
        return
    with scratch_index(info) as index:
        p = Plumbing(info, index=index)
        p.run("read-tree", plan.target.tree)
        p.run("checkout-index", "--force", "-z", "--stdin", input="\0".join(writes) + "\0")


def _remove(info: RepoInfo, relpath: str) -> None:
    """Delete one file the checkpoint does not have, then any directories that left empty.

    The parent must resolve inside the work tree, so a directory swapped for a symlink
    since the plan was made cannot redirect the delete elsewhere.
    """
    top = str(info.top)
    path = info.top / relpath
    parent = os.path.realpath(path.parent)
    if parent != top and not parent.startswith(top + os.sep):
        raise CheckpointError(f"refusing to delete {relpath}: its directory resolves outside the repository")
    if os.path.lexists(path):
        if path.is_dir() and not path.is_symlink():
            return
        path.unlink()
    stop = (info.top / info.scope).resolve()
    directory = path.parent
    while directory != stop and directory != info.top and str(directory).startswith(top):
        try:
            directory.rmdir()
        except OSError:
            break
        directory = directory.parent


def _put_back_nested(info: RepoInfo, plan: RewindPlan) -> None:
    """Move newer nested `.git` entries into `.git/termagent/moved-aside/` (a git tree cannot
    hold them, so moving keeps them recoverable), then write back changed pointer files."""
    if not plan.moved_aside:
        return
    aside = info.state_dir / "moved-aside" / time.strftime("%Y%m%d-%H%M%S")
    for relpath in plan.moved_aside:
        dot_git = info.top / relpath / ".git"
        _inside(info, dot_git.parent, relpath)
        if os.path.lexists(dot_git):
            (aside / relpath).mkdir(parents=True, exist_ok=True)
            shutil.move(str(dot_git), str(aside / relpath / ".git"))
    for relpath, pointer in plan.repointed:
        (info.top / relpath / ".git").write_text(pointer, "utf-8", "surrogateescape")


def _inside(info: RepoInfo, directory: Path, relpath: str) -> None:
    top = str(info.top)
    real = os.path.realpath(directory)
    if real != top and not real.startswith(top + os.sep):
        raise CheckpointError(f"refusing to touch {relpath}: its directory resolves outside the repository")


def undo_target(root: Path | str, session_id: str) -> Checkpoint | None:
    """The checkpoint one step back from the files as they are now.

    The search starts below the newest checkpoint that matches the current files, so
    repeated undos walk back through the session (undo, undo, ...) instead of bouncing
    between the last two states; rewind backups are skipped as targets.
    """
    info = _require_repo(root)
    tree = current_tree(info, check_session_id(session_id))
    checkpoints = read_checkpoints(Plumbing(info), session_id)
    matching = [i for i, checkpoint in enumerate(checkpoints) if checkpoint.tree == tree]
    older = checkpoints[: matching[-1]] if matching else checkpoints
    for checkpoint in reversed(older):
        if checkpoint.kind == KIND_CHANGE and checkpoint.tree != tree:
            return checkpoint
    return None


def undo_last_sync(root: Path | str, session_id: str) -> str:
    """Undo the agent's newest change (the TUI's /undo); returns a line to show the person."""
    try:
        target = undo_target(root, session_id)
        if target is None:
            return "nothing to undo: no earlier checkpoint of this session differs from the files now"
        result = rewind(root, session_id, target.n)
    except (CheckpointError, GitError) as exc:
        return f"cannot undo: {exc}"
    return (f"restored checkpoint {target.n} ({target.reason}): {result.plan.summary()}; "
            f"`termagent rewind {session_id} --to {result.backup.n}` brings the undone state back")


async def undo_last(root: Path | str, session_id: str) -> str:
    return await asyncio.to_thread(undo_last_sync, root, session_id)


__all__ = ["KIND_CHANGE", "KIND_REWIND", "RewindPlan", "RewindResult", "plan_rewind", "rewind", "undo_last"]
