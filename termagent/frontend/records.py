"""Light records of what the conversation view shows, kept for blocks not mounted.

A long session must not hold thousands of widgets: blocks scrolled far out of view are
reduced to these records and rebuilt on demand, and a resumed session's stored
messages become records first, of which only the newest are mounted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Union

from termagent.protocol import CallView, ViewKind


@dataclass(frozen=True)
class UserRecord:
    text: str


@dataclass(frozen=True)
class AssistantRecord:
    text: str


@dataclass(frozen=True)
class ChildCall:
    """One tool call a subagent made, as its one-line header."""

    call_id: str
    name: str
    gist: str
    ok: bool | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class SubagentRecord:
    agent_id: str
    agent: str
    task: str
    status: str = "running"
    summary: str = ""
    calls: tuple[ChildCall, ...] = ()
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ToolRecord:
    call_id: str
    name: str
    input: dict[str, Any]
    ok: bool | None = None  # None: still running, or its result was never stored
    output: str = ""
    duration_s: float | None = None
    error_type: str | None = None
    subagent: SubagentRecord | None = None
    gist: str = ""
    view: str = ViewKind.TEXT
    path: str = ""
    command: str = ""


@dataclass(frozen=True)
class NoticeRecord:
    kind: str  # info, warning, error, retry, compaction, help
    text: str


Record = Union[UserRecord, AssistantRecord, ToolRecord, NoticeRecord]


def records_from_messages(messages: list[dict[str, Any]],
                          describe: Callable[[str, dict[str, Any]], CallView]) -> list[Record]:
    """A stored API-format history as view records, each tool call paired with its result
    and shown as its tool describes it."""
    records: list[Record] = []
    pending: dict[str, int] = {}
    for message in messages:
        for block in as_blocks(message.get("content", [])):
            kind = block.get("type")
            if kind == "text" and block.get("text", "").strip():
                text = str(block["text"])
                records.append(UserRecord(text) if message.get("role") == "user" else AssistantRecord(text))
            elif kind == "tool_use":
                pending[str(block.get("id", ""))] = len(records)
                records.append(_tool_record(block, describe))
            elif kind == "tool_result":
                _pair_result(records, pending, block)
    return records


def _tool_record(block: dict[str, Any], describe: Callable[[str, dict[str, Any]], CallView]) -> ToolRecord:
    name, args = str(block.get("name", "")), dict(block.get("input") or {})
    view = describe(name, args)
    command = view.detail if view.kind == ViewKind.COMMAND else ""
    return ToolRecord(str(block.get("id", "")), name, args, gist=view.gist, view=view.kind, path=view.path,
                      command=command)


def _pair_result(records: list[Record], pending: dict[str, int], block: dict[str, Any]) -> None:
    index = pending.pop(str(block.get("tool_use_id", "")), None)
    if index is None:
        return
    record = records[index]
    assert isinstance(record, ToolRecord)
    failed = bool(block.get("is_error"))
    records[index] = dataclasses.replace(record, ok=not failed, output=result_text(block.get("content")),
                                         error_type="error" if failed else None)


def as_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of blocks (a bare string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def result_text(content: Any) -> str:
    """The text of a tool_result's content (images and other blocks left out)."""
    if isinstance(content, str):
        return content
    return "\n".join(str(b.get("text", "")) for b in as_blocks(content) if b.get("type") == "text")
