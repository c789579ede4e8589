"""What the prompt can complete: slash commands and `@path` workspace files.

Shared by the TUI and the plain line mode, so no textual import. The file list comes
from `git ls-files` (tracked and untracked-but-not-ignored) or a capped walk, and is
cached briefly: completion runs on every keystroke.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FILE_CAP = 20_000
CACHE_S = 10.0
SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache",
                       ".tox", "dist", "build", ".termagent"})
_AT_WORD = re.compile(r"(?:^|\s)@([^\s@]*)$")


@dataclass(frozen=True)
class SlashCommand:
    name: str
    args: str
    help: str


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "show commands and keys"),
    SlashCommand("clear", "", "start a fresh session (the old one stays stored)"),
    SlashCommand("compact", "[focus]", "fold older turns into a summary now"),
    SlashCommand("cost", "", "tokens, cache hits and cost so far"),
    SlashCommand("model", "[name]", "show or change the main model"),
    SlashCommand("mode", "[plan|ask|accept-edits|auto]", "show or change the permission mode"),
    SlashCommand("sessions", "", "list stored sessions of this workspace"),
    SlashCommand("resume", "[id]", "continue a stored session"),
    SlashCommand("agents", "", "list the subagents the model can delegate to"),
    SlashCommand("diff", "", "show uncommitted changes (git diff)"),
    SlashCommand("undo", "", "undo the agent's last file change"),
    SlashCommand("transcript", "[n]", "a subagent's full transcript"),
    SlashCommand("mcp", "", "MCP servers, their status and the prompts they offer"),
    SlashCommand("skills", "", "list the skills (/NAME runs one)"),
    SlashCommand("jobs", "", "background jobs the model started (bash run_in_background)"),
    SlashCommand("quit", "", "leave termagent"),
)


@dataclass(frozen=True)
class Completion:
    """Replace `length` characters before the cursor with `text`."""

    text: str
    length: int
    label: str
    help: str = ""


def slash_completions(line: str, extra: Sequence[SlashCommand] = ()) -> list[Completion]:
    """Commands matching a prompt that is a lone `/word` so far; `extra` are the session's own
    (custom commands, skills, MCP prompts), after the built-ins."""
    if not line.startswith("/") or " " in line or "\n" in line:
        return []
    typed = line[1:]
    return [Completion(f"/{c.name} " if c.args else f"/{c.name}", len(line), f"/{c.name} {c.args}".rstrip(), c.help)
            for c in (*SLASH_COMMANDS, *extra) if c.name.startswith(typed)]


class WorkspaceFiles:
    """Workspace-relative file paths, refreshed at most every CACHE_S seconds."""

    def __init__(self, root: Path, cap: int = FILE_CAP) -> None:
        self.root = root
        self.cap = cap
        self._files: list[str] = []
        self._stamp = 0.0

    def files(self) -> list[str]:
        if not self._files or time.monotonic() - self._stamp > CACHE_S:
            self._files = self._git_files() or self._walk()
            self._stamp = time.monotonic()
        return self._files

    def _git_files(self) -> list[str]:
        from termagent.gitsafe import GitError, run_git

        try:
            proc = run_git(self.root, "ls-files", "--cached", "--others", "--exclude-standard", "-z",
                           check=False, timeout=5)
        except GitError:
            return []
        if proc.returncode != 0:
            return []
        return sorted(set(p for p in proc.stdout.split("\0") if p))[: self.cap]

    def _walk(self) -> list[str]:
        found: list[str] = []
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            rel = os.path.relpath(folder, self.root)
            for name in sorted(names):
                found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
                if len(found) >= self.cap:
                    return found
        return found


def path_completions(before_cursor: str, files: WorkspaceFiles, limit: int = 12) -> list[Completion]:
    """Files for the `@partial` word that ends at the cursor: prefix matches first, then substrings."""
    match = _AT_WORD.search(before_cursor)
    if match is None:
        return []
    typed = match.group(1)
    lowered = typed.lower()
    names = files.files()
    starts = [p for p in names if p.lower().startswith(lowered)]
    inside = [p for p in names if lowered in p.lower() and not p.lower().startswith(lowered)] if typed else []
    chosen = (starts + inside)[:limit]
    return [Completion(f"@{p} ", len(typed) + 1, f"@{p}") for p in chosen]


def completions(before_cursor: str, files: WorkspaceFiles | None,
                extra: Sequence[SlashCommand] = ()) -> list[Completion]:
    found = slash_completions(before_cursor, extra)
    if found or files is None:
        return found
    return path_completions(before_cursor, files)
