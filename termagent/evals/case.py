"""Eval cases: one TOML file each, read into frozen records.

A case says what to ask (`task`), where (`workspace`: a fixture folder next to the case
file, or `git:REF` of the repository holding it), what to run first (`setup`), and how
to tell whether the agent did it: deterministic `[checks]` on the workspace, the tool
calls and the run's outcome, plus optional `[judge]` criteria for what no check can
see. Every mistake in a file is reported with the file and the key, never guessed at.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("plan", "ask", "accept-edits", "auto")
EXIT_REASONS = ("done", "denied", "max_turns", "max_cost", "max_tokens", "max_wall", "api_error",
                "sandbox_error", "interrupted", "internal_error")
TOP_KEYS = {"name", "task", "workspace", "setup", "checks", "judge", "runs", "tags", "mode", "allow", "deny",
            "trusted", "script", "config", "description", "needs_docker"}
LIST_CHECKS = ("files_exist", "files_absent", "tools_called", "tools_not_called", "delegated_to")
MAP_CHECKS = ("files_match", "files_not_match")
NUMBER_CHECKS = {"max_turns": int, "max_cost_usd": float, "max_tool_calls": int, "exit_code": int,
                 "checkpoints_min": int, "commits_min": int}
CHECK_KEYS = {*LIST_CHECKS, *MAP_CHECKS, *NUMBER_CHECKS, "command", "exit_reason", "compacted", "rewind",
              "denied_tools", "commit_message"}


class CaseError(Exception):
    """A case file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Check:
    """One deterministic check: `kind` picks the function in checks.py, `arg` is its input."""

    kind: str
    arg: Any
    label: str


@dataclass(frozen=True)
class Judge:
    criteria: str


@dataclass(frozen=True)
class Case:
    name: str
    task: str
    source: Path
    workspace: str  # a folder relative to the case file, "git:REF", or "" for an empty one
    setup: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    judge: Judge | None = None
    runs: int = 3
    tags: tuple[str, ...] = ()
    mode: str = "accept-edits"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trusted: bool = False
    script: Path | None = None
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    needs_docker: bool = False

    @property
    def base_dir(self) -> Path:
        return self.source.parent


def load_case(path: Path) -> Case:
    """Read and validate one case file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: not valid TOML: {exc}") from None
    return _build(path, data)


def _build(path: Path, data: dict[str, Any]) -> Case:
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise CaseError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    get = _Getter(path, data)
    name = get.text("name", required=True)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}", name):
        raise CaseError(f"{path}: name {name!r} must be letters, digits, '.', '_' or '-' (at most 80)")
    mode = get.text("mode") or "accept-edits"
    if mode not in MODES:
        raise CaseError(f"{path}: mode {mode!r} is not one of {', '.join(MODES)}")
    runs = get.integer("runs", 3)
    if runs < 1:
        raise CaseError(f"{path}: runs must be at least 1, got {runs}")
    script = get.text("script")
    default_script = path.with_suffix(".json")
    return Case(
        name=name, task=get.text("task", required=True), source=path, workspace=get.text("workspace"),
        setup=get.strings("setup"), checks=parse_checks(path, data.get("checks", {})),
        judge=_judge(path, data.get("judge")), runs=runs, tags=get.strings("tags"), mode=mode,
        allow=get.strings("allow"), deny=get.strings("deny"), trusted=get.boolean("trusted"),
        script=(path.parent / script) if script else (default_script if default_script.is_file() else None),
        config=_config(path, data.get("config", {})), needs_docker=get.boolean("needs_docker"),
    )


class _Getter:
    """Typed reads of top-level keys, each failure naming the file and the key."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def text(self, key: str, required: bool = False) -> str:
        value = self.data.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise CaseError(f"{self.path}: '{key}' must be a {'non-empty ' if required else ''}string")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CaseError(f"{self.path}: '{key}' must be an integer, got {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise CaseError(f"{self.path}: '{key}' must be true or false, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        return _strings(self.path, key, self.data.get(key, []))


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CaseError(f"{path}: '{key}' must be a list of strings, got {value!r}")
    return tuple(value)


def _judge(path: Path, value: Any) -> Judge | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("criteria"), str) or not value["criteria"].strip():
        raise CaseError(f"{path}: [judge] needs a non-empty 'criteria' string")
    extra = sorted(set(value) - {"criteria"})
    if extra:
        raise CaseError(f"{path}: unknown key 'judge.{extra[0]}' (known: criteria)")
    return Judge(value["criteria"])


def _config(path: Path, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise CaseError(f"{path}: [config] must hold tables like [config.limits]")
    return {section: dict(values) for section, values in value.items()}


def parse_checks(path: Path, value: Any) -> tuple[Check, ...]:
    """The [checks] table as Check records, in a fixed order so reports are stable."""
    if not isinstance(value, dict):
        raise CaseError(f"{path}: [checks] must be a table")
    unknown = sorted(set(value) - CHECK_KEYS)
    if unknown:
        raise CaseError(f"{path}: unknown key 'checks.{unknown[0]}' (known: {', '.join(sorted(CHECK_KEYS))})")
    checks: list[Check] = []
    for key in sorted(value):
        checks.extend(_check(path, key, value[key]))
    return tuple(checks)


def _check(path: Path, key: str, value: Any) -> list[Check]:
    where = f"checks.{key}"
    if key in LIST_CHECKS or key == "denied_tools":
        return [Check(key, item, f"{key} {item}") for item in _strings(path, where, value)]
    if key in MAP_CHECKS:
        return _map_checks(path, key, value)
    if key in NUMBER_CHECKS:
        kind = NUMBER_CHECKS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
            raise CaseError(f"{path}: '{where}' must be a number ({kind.__name__}), got {value!r}")
        return [Check(key, kind(value), f"{key} {value}")]
    if key == "exit_reason":
        if value not in EXIT_REASONS:
            raise CaseError(f"{path}: '{where}' must be one of {', '.join(EXIT_REASONS)}, got {value!r}")
        return [Check(key, value, f"exit_reason {value}")]
    if key == "compacted":
        if not isinstance(value, bool):
            raise CaseError(f"{path}: '{where}' must be true or false")
        return [Check(key, value, f"compacted {str(value).lower()}")]
    if key == "commit_message":
        return [Check(key, _regex(path, where, value), f"commit_message ~ {value}")]
    if key == "rewind":
        return [_rewind(path, value)]
    return _commands(path, value)


def _map_checks(path: Path, key: str, value: Any) -> list[Check]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CaseError(f"{path}: 'checks.{key}' must map file paths to regex strings")
    return [Check(key, (file, _regex(path, f"checks.{key}.{file}", pattern)), f"{key} {file} ~ {pattern}")
            for file, pattern in sorted(value.items())]


def _regex(path: Path, where: str, pattern: Any) -> str:
    if not isinstance(pattern, str):
        raise CaseError(f"{path}: '{where}' must be a regex string")
    try:
        re.compile(pattern, re.M)
    except re.error as exc:
        raise CaseError(f"{path}: '{where}' is not a valid regex: {exc}") from None
    return pattern


def _rewind(path: Path, value: Any) -> Check:
    """`rewind = {to = N, files_match = {...}, files_absent = [...]}`: after the run the harness
    rewinds the session to checkpoint N and checks the restored tree."""
    if not isinstance(value, dict) or not isinstance(value.get("to"), int):
        raise CaseError(f"{path}: 'checks.rewind' needs an integer 'to' (the checkpoint number)")
    extra = sorted(set(value) - {"to", "files_match", "files_absent"})
    if extra:
        raise CaseError(f"{path}: unknown key 'checks.rewind.{extra[0]}' (known: to, files_match, files_absent)")
    matches = _map_checks(path, "files_match", value.get("files_match", {}))
    absent = _strings(path, "checks.rewind.files_absent", value.get("files_absent", []))
    return Check("rewind", (value["to"], tuple(c.arg for c in matches), absent), f"rewind to {value['to']}")


def _commands(path: Path, value: Any) -> list[Check]:
    """`command = "pytest -q"`, a list of them, or `[[checks.command]] run = ..., exit_code = N`."""
    items = value if isinstance(value, list) else [value]
    out: list[Check] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"run": item}
        if not isinstance(item, dict) or not isinstance(item.get("run"), str):
            raise CaseError(f"{path}: 'checks.command[{index}]' must be a string or a table with 'run'")
        code = item.get("exit_code", 0)
        if not isinstance(code, int) or isinstance(code, bool):
            raise CaseError(f"{path}: 'checks.command[{index}].exit_code' must be an integer")
        out.append(Check("command", (item["run"], code), f"command `{item['run']}` exits {code}"))
    return out


def discover(paths: list[Path]) -> list[Path]:
    """Case files under the given files or folders (a folder: its *.toml, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.glob("*.toml") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise CaseError(f"{path}: no such case file or folder")
    return found


def load_cases(paths: list[Path]) -> list[Case]:
    """Every case, or the first error; names must be unique across the run."""
    cases = [load_case(p) for p in discover(paths)]
    seen: dict[str, Path] = {}
    for case in cases:
        if case.name in seen:
            raise CaseError(f"{case.source}: case name {case.name!r} is also used by {seen[case.name]}")
        seen[case.name] = case.source
    return cases
