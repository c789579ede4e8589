"""The conversation as the model sees it, persisted message by message.

Stored messages are never rewritten. What goes on the wire is derived: the state
document from the last compaction (if any) and the live messages after it, with
consecutive same-role messages merged so an interrupted turn never breaks the API's
alternation rule.
"""

from __future__ import annotations

from typing import Any, Protocol

# The tool result a resumed session gives a call its killed process never finished.
KILLED_CALL = "not finished: the previous termagent process ended while this call was running"


class MessageSink(Protocol):
    def append_message(self, session_id: str, message: dict[str, Any]) -> int: ...


class History:
    def __init__(self, session_id: str, sink: MessageSink | None = None) -> None:
        self.session_id = session_id
        self._sink = sink
        self.messages: list[dict[str, Any]] = []
        self.last_seq = -1  # store seq of the newest persisted message
        self.state_document = ""

    def load(self, messages: list[dict[str, Any]], last_seq: int, state_document: str = "") -> None:
        self.messages = [dict(m) for m in messages]
        self.last_seq = last_seq
        self.state_document = state_document

    def append(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if self._sink is not None:
            self.last_seq = self._sink.append_message(self.session_id, message)

    def add_user_text(self, text: str, images: tuple[dict[str, Any], ...] = ()) -> None:
        """The person's turn: its text, then any images they sent with it (API image blocks)."""
        said = [{"type": "text", "text": text}] if text or not images else []  # the API refuses empty text
        self.append({"role": "user", "content": [*said, *images]})

    def for_request(self) -> list[dict[str, Any]]:
        merged: list[dict[str, Any]] = []
        if self.state_document:
            merged.append({"role": "user", "content": [{"type": "text", "text": self.state_document}]})
        for message in self.messages:
            content = _as_blocks(message["content"])
            if merged and merged[-1]["role"] == message["role"]:
                merged[-1] = {"role": message["role"], "content": merged[-1]["content"] + content}
            else:
                merged.append({"role": message["role"], "content": content})
        if merged and merged[0]["role"] != "user":
            merged.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation resumed)"}]})
        return _answer_every_call(merged)

    def unanswered_tool_ids(self) -> list[str]:
        """tool_use ids in the last assistant message with no result after it (a killed turn)."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message["role"] == "assistant":
                ids = [b["id"] for b in _as_blocks(message["content"]) if b.get("type") == "tool_use"]
                answered = {
                    b.get("tool_use_id")
                    for later in self.messages[index + 1 :]
                    for b in _as_blocks(later["content"])
                    if b.get("type") == "tool_result"
                }
                return [i for i in ids if i not in answered]
        return []


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = [b for b in content if not (b.get("type") == "text" and not str(b.get("text", "")).strip())]
    return blocks or [{"type": "text", "text": "(no content)"}]


MISSING_RESULT = "no result was recorded for this call (the turn ended abnormally); it may not have run"


def _answer_every_call(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last line of defence: the API rejects a tool_use without a tool_result right after it."""
    out = list(messages)
    for index, message in enumerate(out):
        if message["role"] != "assistant":
            continue
        ids = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        following = out[index + 1] if index + 1 < len(out) else None
        answered = {b.get("tool_use_id") for b in following["content"]} if following and following["role"] == "user" else set()
        missing = [tool_result_block(i, MISSING_RESULT, True) for i in ids if i not in answered]
        if not missing:
            continue
        if following is not None and following["role"] == "user":
            out[index + 1] = {"role": "user", "content": missing + following["content"]}
        else:
            out.insert(index + 1, {"role": "user", "content": missing})
    return out


def tool_result_block(tool_use_id: str, text: str, is_error: bool = False,
                      images: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    content: Any = [{"type": "text", "text": text}, *images] if images else text
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block
