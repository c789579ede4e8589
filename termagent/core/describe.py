"""One-line gists and full details of tool calls, for approval prompts and headers."""

from __future__ import annotations

import difflib
import json
from typing import Any


def gist(name: str, args: dict[str, Any] | None, width: int = 80) -> str:
    args = args or {}
    if name == "bash":
        text = str(args.get("command", ""))
    elif name in ("read_file", "write_file", "edit_file"):
        text = str(args.get("path", ""))
    elif name in ("grep",):
        text = f"{args.get('pattern', '')} {args.get('path', '') or ''}".strip()
    elif name == "list_files":
        text = str(args.get("pattern") or args.get("path") or ".")
    elif name == "delegate":
        text = f"{args.get('agent', '')}: {args.get('task', '')}"
    else:
        text = json.dumps(args, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def detail(name: str, args: dict[str, Any] | None) -> str:
    """Everything a person needs to judge the call: never truncated."""
    args = args or {}
    if name == "bash":
        return str(args.get("command", ""))
    if name == "write_file":
        return f"write {args.get('path', '')}:\n{args.get('content', '')}"
    if name == "edit_file":
        old = _lines(str(args.get("old_string", "")))
        new = _lines(str(args.get("new_string", "")))
        diff = difflib.unified_diff(old, new, fromfile=str(args.get("path", "")), tofile=str(args.get("path", "")))
        return "".join(diff)
    return json.dumps(args, indent=2, ensure_ascii=False)


def _lines(text: str) -> list[str]:
    """Lines that all end in a newline, so difflib never glues a - line to a + line."""
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]
