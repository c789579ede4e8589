"""Where lifecycle hooks come from: `[[hooks.EVENT]]` tables and Claude Code's settings.json.

The TOML tables live in termagent's layered config (user file, then the trusted project's
`.termagent/config.toml`); config.py checks each entry here as it merges a file, so a bad
entry is reported with that file's path. Claude Code's `hooks` block is read verbatim from
`~/.claude/settings.json` and, in a trusted project only, `.claude/settings.json` and
`.claude/settings.local.json`. A project's hooks are the repository's programs running on
the person's machine, so their content is part of the project's trust hash
(`trust_material`): adding or changing one asks for trust again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termagent.lifecycle.events import DEFAULT_TIMEOUT_S, EVENT_NAMES, Dialect, HookEvent, HookSpec, Matcher

TOML_KEYS = frozenset({"matcher", "command", "timeout_s"})
CLAUDE_FILES = (".claude/settings.json", ".claude/settings.local.json")


class HookConfigError(ValueError):
    """A hook entry a person must fix; the message says which entry and why."""


@dataclass
class LoadedHooks:
    hooks: list[HookSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def for_event(self, event: HookEvent) -> list[HookSpec]:
        return [hook for hook in self.hooks if hook.event == event]


def check_toml_entries(event: str, entries: list[Any], source: str) -> None:
    """config.py's check of one file's `[[hooks.EVENT]]` list; raises HookConfigError."""
    for index, entry in enumerate(entries):
        try:
            toml_hook(event, entry, source)
        except HookConfigError as exc:
            raise HookConfigError(f"hooks.{event}[{index}]: {exc}") from None


def toml_hook(event: str, entry: Any, source: str) -> HookSpec:
    if not isinstance(entry, dict):
        raise HookConfigError("each hook must be a table with command (and optionally matcher, timeout_s)")
    unknown = sorted(set(entry) - TOML_KEYS)
    if unknown:
        raise HookConfigError(f"unknown keys {', '.join(unknown)} (expected matcher, command, timeout_s)")
    return _spec(event, entry.get("matcher", ""), entry.get("command"), entry.get("timeout_s"), source,
                 Dialect.TERMAGENT)


def _spec(event: str, matcher: Any, command: Any, timeout: Any, source: str, dialect: Dialect) -> HookSpec:
    if not isinstance(command, str) or not command.strip():
        raise HookConfigError("command must be a non-empty string")
    if not isinstance(matcher, str):
        raise HookConfigError("matcher must be a string")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_S
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise HookConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    try:
        compiled = Matcher.parse(matcher)
    except ValueError as exc:
        raise HookConfigError(str(exc)) from None
    return HookSpec(HookEvent(event), compiled, command, float(timeout), source, dialect)


def load_hooks(config_hooks: dict[str, Any], workspace: Path, trusted: bool, read_claude: bool,
               home: Path | None = None) -> LoadedHooks:
    """Every hook of a session, in order: config (user, then project), then Claude Code's files
    (user, then project). Raises HookConfigError naming the file for anything broken."""
    found = LoadedHooks()
    for event in EVENT_NAMES:
        for entry in config_hooks.get(event, []):
            found.hooks.append(toml_hook(event, entry, "termagent config"))
    if not read_claude:
        return found
    from termagent.claude_home import claude_dir

    user_file = (home / ".claude" if home is not None else claude_dir()) / "settings.json"
    _add_claude_file(found, user_file)
    for name in CLAUDE_FILES:
        path = workspace / name
        if path.is_symlink():
            found.warnings.append(f"ignoring {path}: it is a symlink; termagent reads hooks only from a regular file")
            continue
        if not path.is_file() or not _has_hooks(path):
            continue
        if trusted:
            _add_claude_file(found, path)
        else:
            found.warnings.append(f"ignoring the hooks in {path}: hooks from an untrusted project do not run "
                                  "(trust it with --trust-project)")
    return found


def _has_hooks(path: Path) -> bool:
    """True also for a file that cannot be read: it is reported when it would be used."""
    try:
        return bool(_read_claude(path))
    except HookConfigError:
        return True


def _read_claude(path: Path) -> dict[str, Any]:
    """The `hooks` object of a Claude Code settings file ({} when it has none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise HookConfigError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise HookConfigError(f"{path} is not valid JSON: {exc}") from None
    hooks = data.get("hooks", {}) if isinstance(data, dict) else None
    if not isinstance(hooks, dict):
        raise HookConfigError(f"{path}: \"hooks\" must be an object of events")
    return hooks


def _add_claude_file(found: LoadedHooks, path: Path) -> None:
    if not path.is_file():
        return
    for event, groups in _read_claude(path).items():
        if event not in EVENT_NAMES:
            found.warnings.append(f"{path}: hook event {event!r} is not supported by termagent; its hooks do not run")
            continue
        if not isinstance(groups, list):
            raise HookConfigError(f"{path}: hooks.{event} must be a list of matcher groups")
        for index, group in enumerate(groups):
            _add_claude_group(found, path, event, index, group)


def _add_claude_group(found: LoadedHooks, path: Path, event: str, index: int, group: Any) -> None:
    where = f"{path}: hooks.{event}[{index}]"
    if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
        raise HookConfigError(f"{where} must be an object with a \"hooks\" list")
    for handler in group.get("hooks", []):
        if not isinstance(handler, dict):
            raise HookConfigError(f"{where}: each entry of \"hooks\" must be an object")
        kind = handler.get("type", "command")
        if kind != "command":
            found.warnings.append(f"{where}: hook type {kind!r} is not supported by termagent (only \"command\"); "
                                  "it does not run")
            continue
        try:
            found.hooks.append(_spec(event, group.get("matcher", "") or "", handler.get("command"),
                                     handler.get("timeout"), str(path), Dialect.CLAUDE))
        except HookConfigError as exc:
            raise HookConfigError(f"{where}: {exc}") from None


def trust_material(workspace: Path) -> bytes:
    """The project's Claude Code hook blocks, canonically encoded, for the trust hash;
    b"" when the project has none (so projects without hooks hash as they always did)."""
    parts = []
    for name in CLAUDE_FILES:
        path = workspace / name
        if path.is_symlink():
            parts.append(name.encode() + b"\0link:" + str(path.readlink()).encode())
            continue
        if not path.is_file():
            continue
        try:
            hooks = _read_claude(path)
        except HookConfigError:
            hooks = {"unreadable": path.read_bytes().hex() if path.is_file() else ""}
        if hooks:
            parts.append(name.encode() + b"\0" + json.dumps(hooks, sort_keys=True).encode())
    return b"\0".join(parts)
