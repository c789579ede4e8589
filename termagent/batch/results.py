"""RESULTS.jsonl: one line per finished task, appended, never rewritten.

Only the driver writes it, one whole line per `os.write` on an O_APPEND descriptor,
flushed to disk before the next task is reported, so an interrupted or killed batch
leaves complete lines only; a line cut short by a crash of the machine is skipped on the
next load (with a warning) and the file is mended with a newline before anything is
appended. The ids already present are the tasks a re-run skips; when an id appears twice
(a retried task), the last line is the one that counts.

A diff over `inline_limit` bytes goes to a patch file next to the results
(`RESULTS.patches/<id>.patch`), named in the line as `diff_file`, relative to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

INLINE_DIFF_BYTES = 64 * 1024


class ResultLog:
    def __init__(self, path: Path, inline_limit: int = INLINE_DIFF_BYTES,
                 warn: Callable[[str], None] = lambda message: None) -> None:
        self.path = path
        self.inline_limit = inline_limit
        self.warn = warn
        self.results: dict[str, dict[str, Any]] = {}
        self._needs_newline = False

    @property
    def patch_dir(self) -> Path:
        return self.path.with_name(self.path.stem + ".patches")

    def load(self) -> dict[str, dict[str, Any]]:
        """The results already recorded, by id (missing file: none)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return self.results
        self._needs_newline = bool(data) and not data.endswith(b"\n")
        for number, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                self.warn(f"{self.path}:{number}: not a complete result line; that task runs again")
                continue
            if isinstance(line, dict) and isinstance(line.get("id"), str):
                self.results[line["id"]] = line
        return self.results

    def check_writable(self) -> str:
        """Why results could not be appended here ('' when they can), asked before any task runs."""
        if self.path.is_dir():
            return f"--out {self.path} is a directory; name a file"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as exc:
            return f"cannot write results to {self.path}: {exc.strerror or exc}"
        return ""

    def spent_usd(self) -> float:
        return sum(float(line.get("cost_usd") or 0.0) for line in self.results.values())

    def append(self, result: dict[str, Any]) -> dict[str, Any]:
        """Record one finished task; returns the line as written (diff moved out if large)."""
        line = self._place_diff(result)
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        if self._needs_newline:
            data = b"\n" + data
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._needs_newline = False
        self.results[line["id"]] = line
        return line

    def _place_diff(self, result: dict[str, Any]) -> dict[str, Any]:
        diff = result.get("diff")
        if not isinstance(diff, str) or len(diff.encode("utf-8")) <= self.inline_limit:
            return result
        self.patch_dir.mkdir(parents=True, exist_ok=True)
        target = self.patch_dir / f"{patch_name(result['id'])}.patch"
        partial = target.with_suffix(".patch.partial")
        partial.write_text(diff, encoding="utf-8")
        os.replace(partial, target)
        return {**result, "diff": None, "diff_file": os.path.relpath(target, self.path.parent)}


def patch_name(task_id: str) -> str:
    """A file name for any id: the safe characters, plus a short hash when any were dropped."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", task_id).strip(".")[:80] or "task"
    if safe == task_id:
        return safe
    return f"{safe}-{hashlib.sha256(task_id.encode()).hexdigest()[:8]}"
