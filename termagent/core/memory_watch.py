"""Notice when project memory (AGENTS.md, TERMAGENT.md) changed under a previous session.

Project memory goes into every session's system prompt, and the sandbox can write it, so
an edit made during one session silently steers the next. The rule: each session records
the memory it started with; on close it records the memory it left. At the next start a
file that differs from what the previous session started with is reported when that
session changed that file (its end differs from its start) or never closed (killed
mid-run, so nobody can vouch for it). Edits made only between sessions are the person's own and pass
quietly. Reported changes come with a diff so the front ends can show what changed.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.core.prompts import MemoryFile, memory_files
from termagent.terminal_text import strip_terminal_controls
from termagent.store.db import Store

DIFF_LINES = 200


@dataclass(frozen=True)
class MemoryChange:
    path: str
    by_agent: bool
    session_id: str  # the session it changed under
    diff: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "by_agent": self.by_agent, "session_id": self.session_id}

    def warning(self) -> str:
        return (f"{self.path} changed while termagent session {self.session_id} ran (possibly written by the "
                f"agent) and is part of this session's instructions; check the change:\n{self.diff}")


def snapshot(files: list[MemoryFile]) -> dict[str, dict[str, str]]:
    return {f.name: {"sha256": hashlib.sha256(f.text.encode()).hexdigest(), "text": f.text} for f in files}


def check_at_start(store: Store, workspace: Path, session_id: str,
                   files: list[MemoryFile] | None = None) -> list[MemoryChange]:
    """The changes to report, and this session recorded as the new baseline."""
    current = snapshot(memory_files(workspace) if files is None else files)
    seen = store.memory_seen(str(workspace))
    store.memory_started(str(workspace), session_id, current)
    if seen is None:
        return []
    previous, base, final = seen
    return [MemoryChange(name, True, previous, _diff(name, base.get(name), current.get(name)))
            for name in sorted(set(base) | set(current))
            if not _same_file(base.get(name), current.get(name))
            and (final is None or not _same_file(final.get(name), base.get(name)))]


def record_at_end(store: Store, workspace: Path, session_id: str) -> None:
    store.memory_finished(str(workspace), session_id, snapshot(memory_files(workspace)))


def _same_file(one: dict[str, str] | None, other: dict[str, str] | None) -> bool:
    return (one or {}).get("sha256") == (other or {}).get("sha256")


def _diff(name: str, before: dict[str, str] | None, after: dict[str, str] | None) -> str:
    old = (before or {}).get("text", "").splitlines(keepends=True)
    new = (after or {}).get("text", "").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old, new, f"{name} (before)" if before else "/dev/null",
                                      f"{name} (now)" if after else "/dev/null"))
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"[... {len(lines) - DIFF_LINES} more diff lines ...]\n"]
    return strip_terminal_controls("".join(line if line.endswith("\n") else line + "\n" for line in lines)).rstrip()
