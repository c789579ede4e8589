"""Prompts from prompts/ (shipped in the wheel), overridable per project, and project memory."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

MEMORY_FILES = ("AGENTS.md", "TERMAGENT.md")
MEMORY_CAP_CHARS = 40_000


def load_prompt(name: str, workspace: Path | None = None, allow_override: bool = True) -> str:
    """`name` like "system" or "subagents/explorer"; a trusted project may override it."""
    if workspace is not None and allow_override:
        override = workspace / ".termagent" / "prompts" / f"{name}.md"
        if override.is_file() and not _through_link(workspace, override):
            return override.read_text(encoding="utf-8")
    return resources.files("termagent").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")


def _through_link(workspace: Path, path: Path) -> bool:
    """True when any part of `path` below the workspace is a symlink (it could point anywhere)."""
    current = path
    while current != workspace and current != current.parent:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def project_memory(workspace: Path) -> str:
    """AGENTS.md / TERMAGENT.md at the root, framed so the model knows where they came from."""
    parts = []
    for name in MEMORY_FILES:
        path = workspace / name
        if path.is_file() and not path.is_symlink():
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > MEMORY_CAP_CHARS:
                text = text[:MEMORY_CAP_CHARS] + f"\n[... {name} truncated at {MEMORY_CAP_CHARS} characters ...]"
            parts.append(f"<project_memory file=\"{name}\">\n{text}\n</project_memory>")
    return "\n\n".join(parts)
