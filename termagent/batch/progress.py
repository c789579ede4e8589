"""What a person watching a batch sees on stderr.

On a terminal: one bar redrawn in place (done, failed, running, spend). Elsewhere (CI
logs, a pipe): one plain line per finished task, so a log reads as a record.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from termagent.terminal_text import strip_terminal_controls

BAR_WIDTH = 24


class Progress:
    def __init__(self, total: int, earlier: list[dict[str, Any]], stream: TextIO | None = None,
                 tty: bool | None = None) -> None:
        """`earlier`: the result lines a previous run left (their tasks are skipped now)."""
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.ok = sum(1 for line in earlier if line.get("exit_reason") == "done")
        self.failed = len(earlier) - self.ok
        self.running = 0
        self.spent = sum(float(line.get("cost_usd") or 0.0) for line in earlier)

    @property
    def finished(self) -> int:
        return self.ok + self.failed

    def started(self, task_id: str) -> None:
        self.running += 1
        self._redraw()

    def finished_task(self, line: dict[str, Any], recorded: bool = True) -> None:
        """A task came back; `recorded=False` for one interrupted by the batch (it runs again)."""
        self.running = max(0, self.running - 1)
        self.spent += float(line.get("cost_usd") or 0.0)
        if recorded:
            if line.get("exit_reason") == "done":
                self.ok += 1
            else:
                self.failed += 1
        if not self.tty and recorded:
            detail = "" if line.get("exit_reason") == "done" else f" ({_why(line)})"
            total_s = (line.get("timings") or {}).get("total_s", 0.0)
            self._write(f"batch: [{self.finished}/{self.total}] {_short(line.get('id'))} {line.get('exit_reason')}"
                        f"{detail} {total_s:.1f}s ${float(line.get('cost_usd') or 0.0):.4f}\n")
        self._redraw()

    def note(self, message: str) -> None:
        """A line of its own (a warning, the cost cap, the interrupt), above the bar."""
        if self.tty:
            self._write("\r\x1b[2K")
        self._write(f"batch: {message}\n")
        self._redraw()

    def close(self) -> None:
        if self.tty:
            self._write("\n")

    def _redraw(self) -> None:
        if not self.tty:
            return
        filled = BAR_WIDTH * self.finished // max(1, self.total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._write(f"\r\x1b[2K[{bar}] {self.finished}/{self.total}  done {self.ok}  "
                    f"failed {self.failed}  running {self.running}  ${self.spent:.4f}")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _why(line: dict[str, Any]) -> str:
    denials = line.get("denials") or []
    if not line.get("detail") and denials:
        return f"{len(denials)} action(s) denied, first: {_short(denials[0].get('tool'))}"
    return _short(line.get("detail"))


def _short(value: Any, limit: int = 120) -> str:
    text = strip_terminal_controls(str(value or "")).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
