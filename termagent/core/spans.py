"""Where to cut the history for compaction, and what the folded span contains.

A cut never separates a tool call from its result: it falls before a message the user
typed (a turn start), or, when the current turn alone is too long, before an assistant
step whose earlier tool calls all have their results. The folded span is then read for
what the harness keeps itself (the user's words, the files the tools touched) and
rendered as a bounded transcript for the summariser.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any, Callable

from termagent.core.state_document import HARNESS_NOTE_PREFIX
from termagent.protocol import CallView

Describe = Callable[[str, dict[str, Any]], CallView]

TEXT_CAP = 6_000
INPUT_CAP = 1_500
RESULT_CAP = 2_000
SPAN_CAP = 300_000


@dataclass(frozen=True)
class Cut:
    index: int  # live messages start here; 0 means nothing can be folded
    turns_folded: int


def blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def typed_text(message: dict[str, Any]) -> str | None:
    """The text of a message the user typed; None for tool results and harness notes."""
    if message.get("role") != "user":
        return None
    parts = blocks(message)
    if any(b.get("type") == "tool_result" for b in parts):
        return None
    texts = [str(b.get("text", "")) for b in parts if b.get("type") == "text"]
    if not texts or texts[0].startswith(HARNESS_NOTE_PREFIX):
        return None
    return "\n".join(texts)


def choose_cut(messages: list[dict[str, Any]], keep_turns: int) -> Cut:
    """Keep the last `keep_turns` turns; inside one long turn, the last `keep_turns` steps."""
    keep = max(1, keep_turns)
    starts = [i for i, m in enumerate(messages) if typed_text(m) is not None]
    if len(starts) > keep:
        index = starts[-keep]
    else:
        steps = _safe_steps(messages)
        if len(steps) <= keep:
            return Cut(0, 0)
        index = steps[-keep]
    return Cut(index, sum(1 for i in starts if i < index))


def _safe_steps(messages: list[dict[str, Any]]) -> list[int]:
    """Indices of assistant messages before which every earlier tool call has its result."""
    open_calls: set[str] = set()
    safe: list[int] = []
    for index, message in enumerate(messages):
        if message.get("role") == "assistant" and index > 0 and not open_calls:
            safe.append(index)
        for block in blocks(message):
            if block.get("type") == "tool_use":
                open_calls.add(str(block.get("id")))
            elif block.get("type") == "tool_result":
                open_calls.discard(str(block.get("tool_use_id")))
    return safe


def pinned_texts(span: list[dict[str, Any]]) -> list[str]:
    return [text for text in (typed_text(m) for m in span) if text is not None]


def touched_files(span: list[dict[str, Any]], describe: Describe) -> dict[str, set[str]]:
    """Workspace paths that tools read, wrote, edited or committed (as each tool says), by successful calls."""
    failed = {str(b.get("tool_use_id")) for m in span for b in blocks(m)
              if b.get("type") == "tool_result" and b.get("is_error")}
    touched: dict[str, set[str]] = {}
    for message in span:
        for block in blocks(message):
            if block.get("type") != "tool_use" or str(block.get("id")) in failed:
                continue
            view = describe(str(block.get("name")), block.get("input") or {})
            for path in view.paths if view.touch else ():
                touched.setdefault(_normal(path), set()).add(view.touch)
    return touched


def _normal(path: str) -> str:
    cleaned = posixpath.normpath(path.strip().replace("\n", " "))
    return cleaned.removeprefix("./")


def render_span(span: list[dict[str, Any]]) -> str:
    """A readable, bounded transcript of the folded messages for the summariser."""
    lines: list[str] = []
    for message in span:
        typed = typed_text(message)
        if typed is not None:
            lines.append(f"[user, pinned verbatim by termagent]\n{clip(typed, TEXT_CAP)}")
            continue
        for block in blocks(message):
            lines.append(_render_block(message.get("role", "?"), block))
    text = "\n\n".join(line for line in lines if line)
    return clip(text, SPAN_CAP)


def _render_block(role: str, block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return f"[{role}]\n{clip(str(block.get('text', '')), TEXT_CAP)}"
    if kind == "tool_use":
        args = json.dumps(block.get("input") or {}, ensure_ascii=False)
        return f"[tool call {block.get('id')} {block.get('name')}] {clip(args, INPUT_CAP)}"
    if kind == "tool_result":
        status = "error" if block.get("is_error") else "ok"
        return f"[tool result {block.get('tool_use_id')} {status}]\n{clip(result_text(block), RESULT_CAP)}"
    return f"[{role} {kind} block]"


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def clip(text: str, cap: int) -> str:
    """Head and tail of `text` within `cap` characters, with the gap counted."""
    if len(text) <= cap:
        return text
    head = cap * 2 // 3
    tail = cap - head
    return f"{text[:head]}\n[... {len(text) - cap} characters elided ...]\n{text[-tail:]}"
