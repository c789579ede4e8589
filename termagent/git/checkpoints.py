"""Snapshots of the working tree before the agent changes it, kept as git commits under
`refs/termagent/checkpoints/<session>/<n>`.

A snapshot stages tracked and untracked (not ignored) files, plus the execution-bearing
paths of `execution.EXECUTION_BEARING` even when ignored, into a private index that lives
in `.git/termagent/`; nested repositories, gitlinks and untracked files over the size cap
stay out (the nested ones are listed in the commit body instead). It writes a tree, and records a commit only when that tree
differs from the session's newest checkpoint. HEAD, the branch, the person's index and
the stash are never touched. The private index is seeded from the real one and then
kept, so each later snapshot only re-hashes files whose stat data changed: that is what
keeps a snapshot cheap on a large repository, where it runs before every bash command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from termagent.git.execution import manifest
from termagent.git.plumbing import Plumbing, RepoInfo, repo_info, seed_index
from termagent.git.refs import (
    KIND_CHANGE,
    Checkpoint,
    check_session_id,
    private_index,
    read_checkpoints,
    record_checkpoint,
)
from termagent.gitsafe import GitError



MIB = 1 << 20


@dataclass(frozen=True)
class CheckpointLimits:
    """Disk bounds: untracked files over `max_file_bytes` stay out of snapshots, a warning
    is given once the untracked files a snapshot sees grew by `growth_warn_bytes`, and other
    sessions' checkpoints go once past the newest `keep_sessions` or older than `keep_days`."""

    max_file_bytes: int = 50 * MIB
    growth_warn_bytes: int = 1024 * MIB
    keep_sessions: int = 20
    keep_days: float = 14.0


def list_checkpoints(root: Path | str, session_id: str) -> list[Checkpoint]:
    """A session's checkpoints, oldest first; empty outside a repository."""
    info = repo_info(root)
    if info is None:
        return []
    return read_checkpoints(Plumbing(info), check_session_id(session_id))


def sessions_with_checkpoints(root: Path | str) -> list[tuple[str, float, int]]:
    """(session id, time of its newest checkpoint, count), newest session first."""
    info = repo_info(root)
    if info is None:
        return []
    newest: dict[str, tuple[float, int]] = {}
    for cp in read_checkpoints(Plumbing(info)):
        when, count = newest.get(cp.session_id, (0.0, 0))
        newest[cp.session_id] = (max(when, cp.created), count + 1)
    return sorted(((s, w, c) for s, (w, c) in newest.items()), key=lambda item: -item[1])


def newest_session(root: Path | str) -> str | None:
    sessions = sessions_with_checkpoints(root)
    return sessions[0][0] if sessions else None


class Checkpointer:
    """Snapshots one session's workspace; use it as ToolContext.before_change.

    Outside a git repository (or when disabled by config) it does nothing and says why
    in `disabled_reason`. A failing snapshot never fails the tool that triggered it: the
    first failure is reported through `on_warning` and snapshots go on being tried.
    """

    def __init__(self, root: Path, session_id: str, enabled: bool = True,
                 on_warning: Callable[[str], None] | None = None,
                 limits: CheckpointLimits = CheckpointLimits()) -> None:
        self.root = Path(root)
        self.session_id = check_session_id(session_id)
        self.on_warning = on_warning or (lambda message: None)
        self.last: Checkpoint | None = None
        self.disabled_reason = ""
        self.limits = limits
        self._lock = asyncio.Lock()
        self._warned = False
        self._skipped_warned: set[str] = set()
        self._baseline_bytes: int | None = None
        self._growth_warned = False
        self._pruned = False
        self.info: RepoInfo | None = repo_info(self.root) if enabled else None
        if not enabled:
            self.disabled_reason = "checkpoints are off (checkpoints.enabled = false)"
        elif self.info is None:
            self.disabled_reason = f"checkpoints are off: {self.root} is not inside a git repository"

    @property
    def enabled(self) -> bool:
        return self.info is not None

    @property
    def index_path(self) -> Path | None:
        return private_index(self.info, self.session_id) if self.info else None

    async def __call__(self, relpath: str) -> None:
        await self.snapshot(f"before changing {relpath}" if relpath else "before a shell command")

    async def snapshot(self, reason: str) -> str | None:
        """The new checkpoint's commit id, or None when nothing changed (or disabled)."""
        if self.info is None:
            return None
        async with self._lock:
            try:
                checkpoint = await asyncio.to_thread(self.snapshot_sync, reason)
            except (GitError, OSError) as exc:
                self._warn(f"checkpoint failed ({exc}); undo may not cover this change")
                return None
        return checkpoint.commit if checkpoint else None

    def snapshot_sync(self, reason: str, kind: str = KIND_CHANGE) -> Checkpoint | None:
        """Blocking snapshot; raises GitError. Used by `snapshot` and by rewind."""
        if self.info is None or self.index_path is None:
            return None
        if not self._pruned:
            self._pruned = True
            from termagent.git.prune import prune_sessions

            prune_sessions(self.info, self.session_id, self.limits.keep_sessions, self.limits.keep_days)
        if not self.index_path.is_file():
            seed_index(self.info, self.index_path)
        p = Plumbing(self.info, index=self.index_path, identity=True)
        p.max_file_bytes = self.limits.max_file_bytes
        try:
            tree = p.stage_worktree()
        except GitError:  # a lock or a damaged file left by a killed process: start the cache afresh
            self.close()
            seed_index(self.info, self.index_path)
            tree = p.stage_worktree()
        self._check_disk(p)
        existing = read_checkpoints(p, self.session_id)
        previous = existing[-1] if existing else None
        if previous is not None and previous.tree == tree and previous.nested == manifest(p.info.top, p.nested):
            self.last = previous
            return None
        self.last = record_checkpoint(p, self.session_id, tree, kind, reason, previous)
        return self.last

    def _check_disk(self, p: Plumbing) -> None:
        """Say which files a snapshot left out for size (once each) and when the workspace grew a lot."""
        new = [path for path in p.too_large if path not in self._skipped_warned]
        if new:
            self._skipped_warned.update(new)
            shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            self.on_warning(f"checkpoint left out files over {self.limits.max_file_bytes // MIB} MiB "
                            f"(undo cannot restore them): {shown}")
        if self._baseline_bytes is None:
            self._baseline_bytes = p.untracked_bytes
        grown = p.untracked_bytes - self._baseline_bytes
        if not self._growth_warned and grown > self.limits.growth_warn_bytes:
            self._growth_warned = True
            self.on_warning(f"the workspace's untracked files grew by {grown // MIB} MiB this session")

    def close(self) -> None:
        """Drop the private index (checkpoints themselves stay until pruned)."""
        if self.index_path is not None:
            self.index_path.unlink(missing_ok=True)
            self.index_path.with_name(self.index_path.name + ".lock").unlink(missing_ok=True)

    async def aclose(self) -> None:
        """`close` in the shape Session.closers expects."""
        self.close()

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self.on_warning(message)
