"""Tell the user what `--resume` restored, and warn where that is less than everything.

A resumed session continues from exactly what the model last saw: the newest compaction
snapshot (state document plus live messages) and every message stored after it. The
person deserves to know when that is a summary rather than the full conversation, and
when the previous process died mid-turn, so its last actions may be half done.
"""

from __future__ import annotations

from typing import Any, Protocol

from termagent.core.history import KILLED_CALL, History
from termagent.core.spans import blocks, typed_text
from termagent.core.state_document import parse

QUOTE_CHARS = 100


class RestoreFacts(Protocol):
    def message_count(self, session_id: str) -> int: ...

    def compaction_count(self, session_id: str) -> int: ...


def describe_restore(history: History, store: RestoreFacts, session_id: str) -> str:
    """A few lines for the front ends to print after building a resumed session."""
    stored = store.message_count(session_id)
    compactions = store.compaction_count(session_id)
    plural = "s" if compactions != 1 else ""
    lines = [(f"resumed session {session_id}: {len(history.messages)} live messages restored "
              f"({stored} stored in all), {compactions} compaction{plural}")]
    if history.state_document:
        lines.append(f"state document present ({len(history.state_document):,} characters): the model sees it "
                     "in place of the earlier turns")
    last_request = _last_request(history)
    if last_request:
        lines.append(f"last request: {last_request}")
    lines += [f"warning: {w}" for w in _warnings(history, compactions, KILLED_CALL)]
    return "\n".join(lines)


def _warnings(history: History, compactions: int, killed_text: str) -> list[str]:
    found: list[str] = []
    if compactions:
        found.append("the stored history was compacted: earlier turns reach the model as a summary, not word "
                     "for word (your own messages are kept verbatim in it)")
    killed = _killed_calls(history.messages, killed_text)
    if killed:
        found.append(f"the previous process ended while {killed} tool call{'s' if killed != 1 else ''} ran; "
                     "the model is told they did not finish, and their effects may be partial")
    elif history.messages and typed_text(history.messages[-1]) is not None:
        found.append("the last request was never answered; the model sees it again with your next message")
    elif history.messages and history.messages[-1].get("role") == "user":
        found.append("the last turn stopped after tool results, before the model replied")
    return found


def _killed_calls(messages: list[dict[str, Any]], killed_text: str) -> int:
    if not messages or messages[-1].get("role") != "user":
        return 0
    return sum(1 for b in blocks(messages[-1]) if b.get("type") == "tool_result" and b.get("content") == killed_text)


def _last_request(history: History) -> str:
    """The user's newest message: live if it is, else the last one pinned in the state document."""
    texts = [t for t in (typed_text(m) for m in history.messages) if t is not None]
    texts = texts or list(parse(history.state_document).pinned)
    if not texts:
        return ""
    flat = " ".join(texts[-1].split())
    return repr(flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 3] + "...")
