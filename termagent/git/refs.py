"""Checkpoint records as git refs: `refs/termagent/checkpoints/<session>/<n>`, each a commit
whose subject carries the kind and reason and whose body lists the nested repositories.

Reading and writing these records is all that pruning and rewinding need, so they live
apart from the Checkpointer that takes snapshots (which prunes on first use).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from termagent.git.execution import Manifest, decode_manifest, encode_manifest, manifest
from termagent.git.plumbing import ZERO_OID, Plumbing, RepoInfo
from termagent.gitsafe import GitError

REF_ROOT = "refs/termagent/checkpoints"
KIND_CHANGE = "change"
KIND_REWIND = "rewind"
_SESSION_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FORMAT = "%(refname)%00%(objectname)%00%(tree)%00%(committerdate:unix)%00%(contents:subject)%00%(contents:body)%01"
_SUBJECT = re.compile(r"^\[(\w+)\] (.*)$")


class CheckpointError(Exception):
    """A checkpoint operation a person asked for cannot be done; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    session_id: str
    n: int
    commit: str
    tree: str
    created: float
    kind: str  # KIND_CHANGE: taken before the agent changed files; KIND_REWIND: taken before a rewind
    reason: str
    nested: Manifest | None = None  # nested repositories then (None: not recorded)

    @property
    def ref(self) -> str:
        return f"{REF_ROOT}/{self.session_id}/{self.n}"


def check_session_id(session_id: str) -> str:
    """Session ids become ref path components, so only plain names are accepted."""
    if not _SESSION_OK.match(session_id) or ".." in session_id or session_id.endswith((".lock", ".")):
        raise CheckpointError(f"{session_id!r} cannot name a checkpoint session")
    return session_id


def read_checkpoints(p: Plumbing, session_id: str | None = None) -> list[Checkpoint]:
    """Checkpoints of one session (oldest first), or of every session when None."""
    prefix = f"{REF_ROOT}/{session_id}/" if session_id else f"{REF_ROOT}/"
    out = p.run("for-each-ref", f"--format={_FORMAT}", prefix).stdout
    found = [cp for record in out.split("\x01") if (cp := _parse(record.lstrip("\n"))) is not None]
    return sorted(found, key=lambda cp: (cp.session_id, cp.n))


def _parse(line: str) -> Checkpoint | None:
    fields = line.split("\0")
    if len(fields) != 6:
        return None
    ref, commit, tree, when, subject, body = fields
    session_id, _, number = ref[len(REF_ROOT) + 1:].rpartition("/")
    if not number.isdigit() or not session_id:
        return None
    match = _SUBJECT.match(subject)
    kind, reason = (match.group(1), match.group(2)) if match else (KIND_CHANGE, subject)
    return Checkpoint(session_id, int(number), commit, tree, float(when or 0), kind, reason, decode_manifest(body))


def record_checkpoint(p: Plumbing, session_id: str, tree: str, kind: str, reason: str,
                      previous: Checkpoint | None, nested: Manifest | None = None) -> Checkpoint:
    """Commit `tree` as the session's next checkpoint; creating the ref is atomic, so two
    processes writing the same session never overwrite each other's number."""
    reason = " ".join(reason.split())[:200] or "snapshot"
    nested = manifest(p.info.top, p.nested) if nested is None else nested
    for _ in range(5):
        parents = ("-p", previous.commit) if previous else ()
        commit = p.run("commit-tree", tree, *parents, "-m", f"[{kind}] {reason}", "-m", encode_manifest(nested)
                       ).stdout.strip()
        n = previous.n + 1 if previous else 1
        ref = f"{REF_ROOT}/{session_id}/{n}"
        if p.run("update-ref", "-m", "termagent checkpoint", ref, commit, ZERO_OID, check=False).returncode == 0:
            return Checkpoint(session_id, n, commit, tree, float(int(time.time())), kind, reason, nested)
        existing = read_checkpoints(p, session_id)
        previous = existing[-1] if existing else previous
    raise GitError(f"could not record a checkpoint for session {session_id}: its refs keep changing")


def private_index(info: RepoInfo, session_id: str) -> Path:
    """The index a session's Checkpointer keeps between snapshots (its stat cache)."""
    return info.state_dir / f"index-{session_id}"
