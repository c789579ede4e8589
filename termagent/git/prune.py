"""Keep checkpoints from growing without bound: old sessions' refs are deleted.

Only our refs go: the commits, trees and blobs they held become unreachable and the
person's own `git gc` drops them after its usual grace period (gc.pruneExpire, two weeks
by default). termagent never runs `gc` or `prune` itself, because that would also expire
the person's own unreachable objects (a dropped stash, a reset-away commit) on our
schedule instead of theirs.
"""

from __future__ import annotations

import time

from termagent.git.refs import REF_ROOT, private_index, read_checkpoints
from termagent.git.plumbing import Plumbing, RepoInfo

DAY_S = 86_400


def prune_sessions(info: RepoInfo, current: str, keep_sessions: int, keep_days: float,
                   now: float | None = None) -> list[str]:
    """Delete the refs (and private index) of every session that is not among the newest
    `keep_sessions` or whose newest checkpoint is older than `keep_days`. The running
    session `current` always stays and takes one of the `keep_sessions` places whatever
    its checkpoints' age: it is the newest session there is, even when its first
    checkpoint is older than another session's last. Returns the ids of the sessions removed."""
    p = Plumbing(info)
    newest: dict[str, float] = {}
    refs: dict[str, list[str]] = {}
    for checkpoint in read_checkpoints(p):
        newest[checkpoint.session_id] = max(newest.get(checkpoint.session_id, 0.0), checkpoint.created)
        refs.setdefault(checkpoint.session_id, []).append(checkpoint.ref)
    others = sorted((s for s in newest if s != current), key=lambda session: -newest[session])
    cutoff = (time.time() if now is None else now) - keep_days * DAY_S
    doomed = [session for i, session in enumerate(others)
              if i >= keep_sessions - 1 or newest[session] < cutoff]
    commands = "".join(f"delete {ref}\n" for session in doomed for ref in refs[session])
    if commands:
        p.run("update-ref", "--stdin", input=commands)
    for session in doomed:
        private_index(info, session).unlink(missing_ok=True)
    return doomed


__all__ = ["REF_ROOT", "prune_sessions"]
