"""Deterministic trimming of old tool outputs: the cheap first step of compaction.

A long test log from twenty turns ago rarely matters word for word, but losing it for
good would force a re-run. So the full text goes to the artifact store and the history
keeps its head, its tail and the artifact id, which `read_artifact` can slice. No model
is involved, so the result is the same every time and costs nothing. Large string
arguments of old tool calls (a whole file passed to write_file) are trimmed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from termagent.core.spans import blocks, result_text, typed_text

TRIM_OVER_CHARS = 4_000
KEEP_HEAD_CHARS = 1_200
KEEP_TAIL_CHARS = 800
TRIM_MARK = "[termagent trimmed"


class ArtifactStore(Protocol):
    def put_artifact(self, session_id: str, kind: str, text: str) -> str: ...


@dataclass(frozen=True)
class TrimResult:
    messages: list[dict[str, Any]]
    trimmed: int
    chars_saved: int


def trim_old_outputs(messages: list[dict[str, Any]], upto: int, store: ArtifactStore,
                     session_id: str) -> TrimResult:
    """Trim tool results and large tool inputs in messages[:upto]; later ones stay verbatim.

    Returns new message dicts where something changed and the originals elsewhere, so the
    caller's history (and the store's append-only rows) are never mutated.
    """
    out: list[dict[str, Any]] = []
    trimmed = saved = 0
    for index, message in enumerate(messages):
        if index >= upto or isinstance(message.get("content"), str):
            out.append(message)
            continue
        new_blocks: list[dict[str, Any]] = []
        changed = 0
        for block in blocks(message):
            replaced, cut = _trim_block(block, store, session_id)
            new_blocks.append(replaced)
            changed += cut > 0
            saved += cut
        trimmed += changed
        out.append(dict(message, content=new_blocks) if changed else message)
    return TrimResult(out, trimmed, saved)


def newest_step_start(messages: list[dict[str, Any]]) -> int:
    """Where the newest step begins: the newest assistant message, or the user's newest typed
    message when it came after that (a turn just started). What the model has not seen yet
    starts here, so it is the one part that must reach it verbatim."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant" or typed_text(messages[index]) is not None:
            return index
    return 0


def _trim_block(block: dict[str, Any], store: ArtifactStore, session_id: str) -> tuple[dict[str, Any], int]:
    kind = block.get("type")
    if kind == "tool_result" and not _has_images(block):
        text = result_text(block)
        if _worth_trimming(text):
            short = _shorten(text, store.put_artifact(session_id, "tool_output", text), "output")
            return dict(block, content=short), len(text) - len(short)
    if kind == "tool_use" and isinstance(block.get("input"), dict):
        args, saved = {}, 0
        for key, value in block["input"].items():
            if isinstance(value, str) and _worth_trimming(value):
                args[key] = _shorten(value, store.put_artifact(session_id, "tool_input", value), f"`{key}` argument")
                saved += len(value) - len(args[key])
            else:
                args[key] = value
        if saved:
            return dict(block, input=args), saved
    return block, 0


def _worth_trimming(text: str) -> bool:
    return len(text) > TRIM_OVER_CHARS and TRIM_MARK not in text


def _has_images(block: dict[str, Any]) -> bool:
    content = block.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") != "text" for b in content)


def _shorten(text: str, artifact_id: str, what: str) -> str:
    lines = text.count("\n") + 1
    middle = len(text) - KEEP_HEAD_CHARS - KEEP_TAIL_CHARS
    note = (f"{TRIM_MARK} {middle} characters from the middle of this old {what}; the full text "
            f"({lines} lines) is artifact {artifact_id}: read it with read_artifact id={artifact_id}]")
    return f"{text[:KEEP_HEAD_CHARS]}\n{note}\n{text[-KEEP_TAIL_CHARS:]}"
