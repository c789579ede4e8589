"""The JSON a hook reads, in its dialect, and a hook's rewritten input back in termagent's terms.

A hook from Claude Code's settings.json sees Claude Code's tool names and input shapes
(`Bash`, `Edit`, `tool_input.file_path` as an absolute path), so a script copied from its
documentation reads the fields it expects; a `[[hooks.EVENT]]` hook sees termagent's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termagent.lifecycle.events import TERMAGENT_TO_CLAUDE, Dialect, HookSpec

FILE_TOOLS = frozenset({"read_file", "write_file", "edit_file"})
CLAUDE_MODES = {"plan": "plan", "ask": "default", "accept-edits": "acceptEdits", "auto": "bypassPermissions"}


def mode_for(spec: HookSpec, mode: str) -> str:
    return CLAUDE_MODES.get(mode, mode) if spec.dialect == Dialect.CLAUDE else mode


def tool_name_for(spec: HookSpec, name: str) -> str:
    return TERMAGENT_TO_CLAUDE.get(name, name) if spec.dialect == Dialect.CLAUDE else name


def tool_input_for(spec: HookSpec, name: str, args: dict[str, Any], workspace: Path) -> dict[str, Any]:
    if spec.dialect != Dialect.CLAUDE or name not in FILE_TOOLS or not isinstance(args.get("path"), str):
        return dict(args)
    shown = {key: value for key, value in args.items() if key != "path"}
    path = Path(args["path"])
    return {"file_path": str(path if path.is_absolute() else workspace / path), **shown}


def tool_response_for(spec: HookSpec, name: str, args: dict[str, Any], output: str, ok: bool,
                      error_type: str | None, workspace: Path) -> dict[str, Any]:
    response: dict[str, Any] = {"output": output, "ok": ok, "success": ok, "error_type": error_type}
    if spec.dialect == Dialect.CLAUDE and name in FILE_TOOLS:
        response["filePath"] = tool_input_for(spec, name, args, workspace).get("file_path", "")
    return response


def input_from_hook(spec: HookSpec, name: str, updated: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """A Claude Code hook's updatedInput in termagent's shape (file_path -> workspace-relative path)."""
    if spec.dialect != Dialect.CLAUDE:
        return dict(updated)
    result = dict(updated)
    if name in FILE_TOOLS and isinstance(result.get("file_path"), str):
        path = Path(result.pop("file_path"))
        try:
            result["path"] = str(path.relative_to(workspace)) if path.is_absolute() else str(path)
        except ValueError:
            result["path"] = str(path)
    if name == "bash":
        result.pop("description", None)
        timeout_ms = result.pop("timeout", None)
        if isinstance(timeout_ms, (int, float)) and not isinstance(timeout_ms, bool) and timeout_ms > 0:
            result["timeout_s"] = max(1, int(timeout_ms / 1000))
    return result
