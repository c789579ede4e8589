"""Checkpoints of the working tree and rewinding to them, built on hardened git plumbing.

Nothing here touches HEAD, the branch, the person's index or the stash: snapshots are
written through a private index file into refs under `refs/termagent/checkpoints/`.
"""

from termagent.git.autocommit import auto_commit_turn
from termagent.git.checkpoints import Checkpointer, list_checkpoints, newest_session
from termagent.git.refs import Checkpoint
from termagent.git.rewind import (
    RewindPlan,
    RewindResult,
    plan_rewind,
    rewind,
    undo_last,
)

__all__ = [
    "Checkpoint",
    "Checkpointer",
    "RewindPlan",
    "RewindResult",
    "auto_commit_turn",
    "list_checkpoints",
    "newest_session",
    "plan_rewind",
    "rewind",
    "undo_last",
]
