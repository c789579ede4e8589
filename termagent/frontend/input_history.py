"""Prompt history kept across sessions, shared by the TUI and the plain line mode.

One JSON string per line in the state dir, so multi-line prompts survive intact and a
torn last line (a killed process) costs only that entry. No textual import: the plain
mode uses it too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_ENTRIES = 1000


def history_path() -> Path:
    from termagent.store.db import state_dir

    return state_dir() / "prompt_history.jsonl"


class InputHistory:
    """Newest last. `older`/`newer` walk it like a shell's up and down arrows."""

    def __init__(self, path: Path | None = None, limit: int = MAX_ENTRIES) -> None:
        self.path = path or history_path()
        self.limit = limit
        self.entries: list[str] = self._load()
        self._cursor = len(self.entries)
        self._draft = ""

    def _load(self) -> list[str]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return []
        entries: list[str] = []
        for line in raw.splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, str) and value.strip():
                entries.append(value)
        return entries[-self.limit:]

    def add(self, text: str) -> None:
        """Remember a sent prompt (not twice in a row) and append it to the file at once."""
        self.reset()
        if not text.strip() or (self.entries and self.entries[-1] == text):
            return
        self.entries.append(text)
        self._cursor = len(self.entries)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(text) + "\n")
            if len(self.entries) > self.limit * 2:
                self._rewrite()
        except OSError:
            pass  # history is a convenience: a read-only state dir must not break the prompt

    def _rewrite(self) -> None:
        self.entries = self.entries[-self.limit:]
        temp = self.path.with_suffix(".tmp")
        temp.write_text("".join(json.dumps(e) + "\n" for e in self.entries), encoding="utf-8")
        os.replace(temp, self.path)
        self._cursor = len(self.entries)

    def reset(self) -> None:
        self._cursor = len(self.entries)
        self._draft = ""

    def older(self, current: str) -> str | None:
        """The previous entry, or None at the oldest; the unsent draft is kept for `newer`."""
        if self._cursor == 0:
            return None
        if self._cursor == len(self.entries):
            self._draft = current
        self._cursor -= 1
        return self.entries[self._cursor]

    def newer(self) -> str | None:
        """The next entry, the draft after the newest, or None when already at the draft."""
        if self._cursor >= len(self.entries):
            return None
        self._cursor += 1
        return self._draft if self._cursor == len(self.entries) else self.entries[self._cursor]
