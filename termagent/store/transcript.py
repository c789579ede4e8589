"""A stored session as readable text, for `termagent sessions show` and the app's /transcript."""

from __future__ import annotations

import json
from typing import Any

from termagent.store.db import SessionRecord, Store

RESULT_PREVIEW_CHARS = 2000


def format_transcript(store: Store, record: SessionRecord) -> str:
    """Every message of the session, control sequences stripped (it is model-written text)."""
    from termagent.terminal_text import strip_terminal_controls

    lines = [f"session {record.id}  agent {record.agent}  model {record.model}  workspace {record.workspace}"]
    for message in store.messages(record.id):
        content = message["content"] if isinstance(message["content"], list) else [message["content"]]
        lines += [strip_terminal_controls(block_text(message["role"], block)) for block in content]
    return "\n".join(lines)


def block_text(role: str, block: Any) -> str:
    if isinstance(block, str):
        return f"{role}: {block}"
    kind = block.get("type")
    if kind == "text":
        return f"{role}: {block['text']}"
    if kind == "tool_use":
        return f"{role} → {block['name']}({json.dumps(block.get('input'), ensure_ascii=False)})"
    if kind == "tool_result":
        content = block.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        flag = " (error)" if block.get("is_error") else ""
        more = " …" if len(text) > RESULT_PREVIEW_CHARS else ""
        return f"result{flag}: {text[:RESULT_PREVIEW_CHARS]}{more}"
    return f"{role}: [{kind}]"
