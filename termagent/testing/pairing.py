"""The request rule a scripted server must enforce because the real API does: every
`tool_use` an assistant message holds is answered by a `tool_result` in the very next
message. A harness that drops or reorders a result is rejected with the API's 400, so
the bug shows in the test that caused it instead of passing against a lenient fake."""

from __future__ import annotations

from typing import Any


def unanswered_tool_uses(body: dict[str, Any]) -> str | None:
    """The API's complaint about the first unanswered `tool_use`, or None when all are paired."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for index, message in enumerate(messages):
        wanted = _ids(message, "assistant", "tool_use", "id")
        if not wanted:
            continue
        following = messages[index + 1] if index + 1 < len(messages) else {}
        missing = [i for i in wanted if i not in _ids(following, "user", "tool_result", "tool_use_id")]
        if missing:
            return (f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message.")
    return None


def _ids(message: Any, role: str, block_type: str, key: str) -> list[str]:
    if not isinstance(message, dict) or message.get("role") != role or not isinstance(message.get("content"), list):
        return []
    return [str(block.get(key)) for block in message["content"]
            if isinstance(block, dict) and block.get("type") == block_type]
