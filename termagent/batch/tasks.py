"""The task file: one JSON object per line, checked whole before anything runs.

Every problem is reported with its line number, all at once, so a 200-line file with two
typos costs one edit, not two failed runs. Unknown keys are errors: a misspelt
`max_cost` must not silently run a task without its cap.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = ("plan", "ask", "accept-edits", "auto")
KNOWN_KEYS = frozenset({"id", "task", "workspace", "mode", "model", "max_cost_usd", "max_turns"})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")


class TaskFileError(Exception):
    """The task file cannot be used; `problems` holds one message per bad line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(shown))


@dataclass(frozen=True)
class Workspace:
    """Where a task's copy comes from: a directory (`path`) or a git remote (`git`, `ref`)."""

    path: str | None = None
    git: str | None = None
    ref: str | None = None

    def describe(self) -> str:
        if self.git:
            return f"{self.git}@{self.ref}" if self.ref else self.git
        return self.path or ""


@dataclass(frozen=True)
class Task:
    """One line of the task file; `line` is its 1-based line number, for messages."""

    id: str
    task: str
    workspace: Workspace
    mode: str | None = None
    model: str | None = None
    max_cost_usd: float | None = None
    max_turns: int | None = None
    line: int = 0


def load_tasks(path: Path | str, text: str | None = None) -> list[Task]:
    """Parse the file (or `text`, e.g. stdin); raises TaskFileError listing every problem."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskFileError(name, [f"cannot read it: {exc}"]) from None
    base = Path(path).resolve().parent if name != "-" else Path.cwd()
    tasks: list[Task] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            task = parse_line(raw, number, base)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if task.id in seen:
            problems.append(f"line {number}: id {task.id!r} is already used on line {seen[task.id]}")
            continue
        seen[task.id] = number
        tasks.append(task)
    if problems:
        raise TaskFileError(name, problems)
    if not tasks:
        raise TaskFileError(name, ["no tasks in it (one JSON object per line)"])
    return tasks


def parse_line(raw: str, number: int, base: Path) -> Task:
    """One task from one line; ValueError says what is wrong in words."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(KNOWN_KEYS))}")
    return Task(
        id=_text(data, "id"),
        task=_text(data, "task"),
        workspace=_workspace(data.get("workspace"), base),
        mode=_choice(data, "mode"),
        model=_text(data, "model", required=False),
        max_cost_usd=_number(data, "max_cost_usd", float),
        max_turns=_number(data, "max_turns", int),
        line=number,
    )


def _text(data: dict[str, Any], key: str, required: bool = True) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string" + ("" if key in data else " (missing)"))
    return value


def _choice(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and value not in MODES:
        raise ValueError(f"{key!r} must be one of {', '.join(MODES)} (got {value!r})")
    return value


def _number(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{key!r} must be a{'n integer' if kind is int else ' number'} (got {value!r})")
    if value <= 0:
        raise ValueError(f"{key!r} must be positive (got {value!r})")
    return kind(value)


def _workspace(value: Any, base: Path) -> Workspace:
    """A path (relative to the task file), a git URL, or {"path"} / {"git", "ref"?}."""
    if isinstance(value, str) and value.strip():
        return Workspace(git=value) if _URL.match(value) else Workspace(path=str((base / value).resolve()))
    if isinstance(value, dict):
        extra = sorted(set(value) - {"path", "git", "ref"})
        if extra:
            raise ValueError(f"'workspace' has unknown key(s) {', '.join(map(repr, extra))}; use path, or git and ref")
        if isinstance(value.get("git"), str) and value["git"].strip() and "path" not in value:
            ref = value.get("ref")
            if ref is not None and (not isinstance(ref, str) or not ref.strip() or ref.startswith("-")):
                raise ValueError("'workspace.ref' must be a branch, tag or commit name")
            return Workspace(git=value["git"], ref=ref)
        if isinstance(value.get("path"), str) and value["path"].strip() and set(value) == {"path"}:
            return Workspace(path=str((base / value["path"]).resolve()))
    raise ValueError("'workspace' must be a path, a git URL, {\"path\": ...} or {\"git\": URL, \"ref\": REF}")
