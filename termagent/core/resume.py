"""Which session this is, new or resumed, and its history as the model last saw it.

Kept apart from the assembly because resuming has its own rules: `--resume` with no id
takes the newest session of the workspace, a prefix must name one top-level session, and
tool calls the previous process never answered get a "killed" result so the next request
is well-formed.
"""

from __future__ import annotations

from pathlib import Path

from termagent.core.history import KILLED_CALL, History, tool_result_block
from termagent.store.db import Store


class ResumeError(Exception):
    pass


def session_id_for(store: Store, workspace: Path, resume: str | None, model: str) -> tuple[str, bool]:
    """A new session's id, or the resumed one's; and whether it was resumed. `resume` is None for
    a new session and "" for the newest of this workspace."""
    if resume is None:
        return store.create_session(str(workspace), model), False
    if resume == "":
        records = store.sessions(str(workspace), limit=1)
        if not records:
            raise ResumeError(f"no earlier session to resume in {workspace}")
        return records[0].id, True
    try:
        record = store.find_session(resume, top_level=True)
    except LookupError as exc:
        raise ResumeError(str(exc)) from None
    if record is None:
        raise ResumeError(f"no session matches {resume!r}; `termagent sessions` lists them")
    return record.id, True


def history_of(store: Store, session_id: str, resumed: bool) -> History:
    """The newest compaction snapshot plus every message stored after it."""
    history = History(session_id, store)
    if not resumed:
        return history
    compaction = store.latest_compaction(session_id)
    through, document, live = compaction if compaction else (-1, "", [])
    newer = store.messages(session_id, through + 1)
    history.load(live + newer, through + len(newer), document)
    dangling = history.unanswered_tool_ids()
    if dangling:
        history.append({"role": "user", "content": [tool_result_block(i, KILLED_CALL, True) for i in dangling]})
    return history
