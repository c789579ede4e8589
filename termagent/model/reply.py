"""Accumulate one streamed model reply from raw SSE events.

We accumulate ourselves rather than through the SDK's MessageStream because the SDK
parses tool input in partial mode: a stream cut inside a tool call's JSON would look
like a complete call with half its arguments, and malformed JSON raises mid-stream and
loses the rest of the reply. Here every tool call keeps its raw JSON and is parsed
strictly once its block has closed; anything else is marked broken, never executed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from termagent.model.pricing import Usage


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any] | None
    raw_json: str
    problem: str = ""  # why input is None: malformed JSON, cut off, not an object

    def to_block(self) -> dict[str, Any]:
        """The tool_use block as it goes back into the history: valid even when broken."""
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input or {}}


@dataclass(frozen=True)
class ModelReply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    stop_reason: str
    usage: Usage
    model: str
    content: tuple[dict[str, Any], ...] = ()

    def assistant_message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": list(self.content)}


@dataclass
class _Block:
    kind: str
    text: str = ""
    tool_id: str = ""
    name: str = ""
    json_parts: list[str] = field(default_factory=list)
    closed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ReplyBuilder:
    """Feed it raw events (SDK objects or dicts); `finish()` gives the ModelReply."""

    def __init__(self, on_text: Callable[[str], None] | None = None) -> None:
        self._on_text = on_text or (lambda text: None)
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, int] = {}
        self._stop_reason = ""
        self._model = ""
        self.text_chars = 0
        self.completed = False

    def feed(self, event: Any) -> None:
        data = event if isinstance(event, dict) else event.model_dump()
        kind = data.get("type")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data)

    def _on_message_start(self, data: dict[str, Any]) -> None:
        message = data.get("message") or {}
        self._model = message.get("model") or ""
        self._merge_usage(message.get("usage"))

    def _on_content_block_start(self, data: dict[str, Any]) -> None:
        block = data.get("content_block") or {}
        kind = block.get("type", "")
        entry = _Block(kind=kind)
        if kind == "text":
            entry.text = block.get("text") or ""
        elif kind == "tool_use":
            entry.tool_id = block.get("id") or ""
            entry.name = block.get("name") or ""
        else:
            entry.extra = block
        self._blocks[int(data.get("index", len(self._blocks)))] = entry

    def _on_content_block_delta(self, data: dict[str, Any]) -> None:
        entry = self._blocks.get(int(data.get("index", -1)))
        delta = data.get("delta") or {}
        if entry is None:
            return
        if delta.get("type") == "text_delta":
            piece = delta.get("text") or ""
            entry.text += piece
            self.text_chars += len(piece)
            self._on_text(piece)
        elif delta.get("type") == "input_json_delta":
            entry.json_parts.append(delta.get("partial_json") or "")

    def _on_content_block_stop(self, data: dict[str, Any]) -> None:
        entry = self._blocks.get(int(data.get("index", -1)))
        if entry is not None:
            entry.closed = True

    def _on_message_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta") or {}
        self._stop_reason = delta.get("stop_reason") or self._stop_reason
        self._merge_usage(data.get("usage"))

    def _on_message_stop(self, data: dict[str, Any]) -> None:
        self.completed = True

    def _merge_usage(self, usage: dict[str, Any] | None) -> None:
        for key, value in (usage or {}).items():
            if isinstance(value, int):
                self._usage[key] = value

    def finish(self) -> ModelReply:
        content: list[dict[str, Any]] = []
        calls: list[ToolCall] = []
        texts: list[str] = []
        for index in sorted(self._blocks):
            entry = self._blocks[index]
            if entry.kind == "text":
                if entry.text.strip():  # the API rejects whitespace-only text blocks sent back to it
                    content.append({"type": "text", "text": entry.text})
                    texts.append(entry.text)
            elif entry.kind == "tool_use":
                call = _parse_call(entry, self._stop_reason)
                calls.append(call)
                content.append(call.to_block())
        return ModelReply(
            text="".join(texts),
            tool_calls=tuple(calls),
            stop_reason=self._stop_reason or "end_turn",
            usage=Usage.from_dict(self._usage),
            model=self._model,
            content=tuple(content),
        )


def _parse_call(entry: _Block, stop_reason: str) -> ToolCall:
    raw = "".join(entry.json_parts)
    if not entry.closed or stop_reason == "max_tokens":
        why = "the reply was cut off (max_tokens) inside this tool call" if stop_reason == "max_tokens" else (
            "the stream ended inside this tool call"
        )
        return ToolCall(entry.tool_id, entry.name, None, raw, why)
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return ToolCall(entry.tool_id, entry.name, None, raw, f"tool input is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return ToolCall(entry.tool_id, entry.name, None, raw, "tool input must be a JSON object")
    return ToolCall(entry.tool_id, entry.name, value, raw)
