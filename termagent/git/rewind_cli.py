"""`termagent rewind [SESSION] [--to N] [--yes] [--list]`: show what will change, ask, restore.

Without --to it steps back one change (what the TUI's /undo does). Without a terminal
and without --yes it refuses rather than guess, since a rewind deletes files (they stay
recoverable from the checkpoint it takes first).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from termagent.console import name, say
from termagent.git.checkpoints import list_checkpoints, sessions_with_checkpoints
from termagent.git.refs import Checkpoint, CheckpointError
from termagent.git.rewind import RewindPlan, plan_rewind, rewind, undo_target
from termagent.gitsafe import GitError

EXIT_OK = 0
EXIT_DECLINED = 1
EXIT_USAGE = 2
SHOWN_FILES = 50


def resolve_session(workspace: Path, given: str | None) -> str:
    """The named session (a unique prefix is enough), or the one with the newest checkpoint."""
    sessions = [s for s, _, _ in sessions_with_checkpoints(workspace)]
    if not sessions:
        raise CheckpointError("this repository has no termagent checkpoints yet")
    if not given:
        return sessions[0]
    if given in sessions:
        return given
    matches = [s for s in sessions if s.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CheckpointError(f"no session with checkpoints matches {given!r}; sessions: {', '.join(sessions[:10])}")
    raise CheckpointError(f"{given!r} matches several sessions: {', '.join(matches[:10])}")


def format_checkpoint(checkpoint: Checkpoint) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(checkpoint.created))
    kind = "" if checkpoint.kind == "change" else f"[{checkpoint.kind}] "
    return f"{checkpoint.n:>4}  {when}  {kind}{name(checkpoint.reason)}"


def format_plan(plan: RewindPlan) -> list[str]:
    lines = [name(line) for line in plan.lines()]
    shown = lines[:SHOWN_FILES]
    if len(lines) > SHOWN_FILES:
        shown.append(f"... and {len(lines) - SHOWN_FILES} more")
    return [f"rewinding to checkpoint {plan.target.n} ({name(plan.target.reason)}) changes: {plan.summary()}",
            *("  " + line for line in shown)]


def _confirm(yes: bool, out: TextIO) -> int | None:
    """None to go ahead, else the exit code."""
    if yes:
        return None
    if not sys.stdin.isatty():
        say("termagent rewind: not a terminal, so nothing was changed; pass --yes to rewind", file=out)
        return EXIT_USAGE
    answer = input("Rewind these files? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return None
    say("left unchanged", file=out)
    return EXIT_DECLINED


def rewind_command(workspace: Path, session: str | None, to_n: int | None, yes: bool, list_only: bool,
                   out: TextIO | None = None) -> int:
    try:
        return _rewind(workspace, session, to_n, yes, list_only, out or sys.stdout)
    except (CheckpointError, GitError) as exc:
        say(f"termagent rewind: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _rewind(workspace: Path, session: str | None, to_n: int | None, yes: bool, list_only: bool, out: TextIO) -> int:
    session_id = resolve_session(workspace, session)
    say(f"session {session_id}, checkpoints (oldest first):", file=out)
    for checkpoint in list_checkpoints(workspace, session_id):
        say(format_checkpoint(checkpoint), file=out)
    if list_only:
        return EXIT_OK
    if to_n is None:
        target = undo_target(workspace, session_id)
        if target is None:
            say("nothing to undo: no earlier checkpoint differs from the files now", file=out)
            return EXIT_OK
        to_n = target.n
    plan = plan_rewind(workspace, session_id, to_n)
    if plan.empty:
        say(f"the files already match checkpoint {to_n}; nothing to do", file=out)
        return EXIT_OK
    say("\n".join(format_plan(plan)), file=out)
    refused = _confirm(yes, out)
    if refused is not None:
        return refused
    result = rewind(workspace, session_id, to_n, expect_tree=plan.current_tree)
    say(f"rewound to checkpoint {to_n}. The files as they were are checkpoint {result.backup.n}: "
        f"`termagent rewind {session_id} --to {result.backup.n}` undoes this rewind.", file=out)
    return EXIT_OK
