"""Prompts from prompts/ (shipped in the wheel), overridable per project, and project memory."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from termagent.tools.workspace import through_link

MEMORY_FILES = ("AGENTS.md", "TERMAGENT.md")
MEMORY_CAP_BYTES = 64 * 1024


@dataclass(frozen=True)
class MemoryFile:
    """One project memory file as read: at most the cap, with the real size to say so."""

    name: str
    text: str
    size: int
    truncated: bool

    def warning(self) -> str:
        return (f"{self.name} is {self.size:,} bytes; only its first {len(self.text.encode()):,} bytes "
                "are used as project memory")


def load_prompt(name: str, workspace: Path | None = None, allow_override: bool = True) -> str:
    """`name` like "system" or "subagents/explorer"; a trusted project may override it."""
    if workspace is not None and allow_override:
        override = workspace / ".termagent" / "prompts" / f"{name}.md"
        if override.is_file() and not through_link(workspace, override):
            return override.read_text(encoding="utf-8")
    return resources.files("termagent").joinpath(f"prompts/{name}.md").read_text(encoding="utf-8")


def project_memory(workspace: Path, cap_bytes: int = MEMORY_CAP_BYTES) -> str:
    """AGENTS.md / TERMAGENT.md at the root, framed so the model knows where they came from."""
    return render_memory(memory_files(workspace, cap_bytes))


def render_memory(files: list[MemoryFile]) -> str:
    parts = []
    for memory in files:
        text = memory.text
        if memory.truncated:
            text += f"\n[... {memory.name} truncated: {memory.size} bytes, only the start is shown ...]"
        parts.append(f"<project_memory file=\"{memory.name}\">\n{text}\n</project_memory>")
    return "\n\n".join(parts)


def memory_files(workspace: Path, cap_bytes: int = MEMORY_CAP_BYTES) -> list[MemoryFile]:
    """The memory files that exist, each read only up to `cap_bytes` (a sandbox can plant a
    1 GiB sparse AGENTS.md; reading it whole cost the next start gigabytes)."""
    found = [_read_capped(workspace / name, cap_bytes) for name in MEMORY_FILES]
    return [memory for memory in found if memory is not None]


def _read_capped(path: Path, cap_bytes: int) -> MemoryFile | None:
    """A regular file opened without following a link (nor blocking on a FIFO), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        data = handle.read(cap_bytes)
    text = data.decode("utf-8", errors="replace")
    return MemoryFile(path.name, text, info.st_size, info.st_size > len(data))
