"""Custom slash commands: Markdown files whose body is sent as the prompt.

`/name args` sends the body of `name.md` from `.termagent/commands/` or `.claude/commands/`
(a trusted project only) or `~/.config/termagent/commands/` (and Claude Code's
`~/.claude/commands/`), with `$ARGUMENTS` replaced by everything after the name and `$1`..`$9`
by its words. The front matter (`description`, `argument-hint`) is optional, as in Claude
Code, where most command files have none. A built-in command of the same name wins.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from termagent.extensions.frontmatter import FrontMatterError, read_text, split, text_field

PROJECT_DIRS = (".termagent/commands", ".claude/commands")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_COMMANDS = 500
_POSITIONAL = re.compile(r"\$([1-9])(?![0-9])")


@dataclass(frozen=True)
class CustomCommand:
    name: str
    description: str
    argument_hint: str
    body: str
    source: Path
    scope: str  # "project" | "user"


@dataclass(frozen=True)
class CommandSet:
    commands: tuple[CustomCommand, ...] = ()
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> CustomCommand | None:
        return next((command for command in self.commands if command.name == name), None)


def user_command_dirs() -> tuple[Path, ...]:
    from termagent.extensions.places import claude_dir, termagent_config_dir

    return termagent_config_dir() / "commands", claude_dir() / "commands"


def discover_commands(workspace: Path, trusted: bool, reserved: frozenset[str],
                      user_dirs: tuple[Path, ...] | None = None) -> CommandSet:
    """Project commands first, then the person's; `reserved` names (built-ins) are refused."""
    commands: list[CustomCommand] = []
    warnings: list[str] = []
    roots = [(workspace / relative, "project") for relative in PROJECT_DIRS]
    roots += [(root, "user") for root in (user_command_dirs() if user_dirs is None else user_dirs)]
    for root, scope in roots:
        if not (root.is_dir() or root.is_symlink()):
            continue
        if scope == "project" and not trusted:
            warnings.append(f"ignoring commands in {root}: this project is not trusted (--trust-project)")
            continue
        if scope == "project" and (root.is_symlink() or root.parent.is_symlink()):
            warnings.append(f"ignoring commands in {root}: it is reached through a symlink")
            continue
        for path in sorted(root.glob("*.md"))[:MAX_COMMANDS]:
            _add(path, scope, reserved, commands, warnings)
    return CommandSet(tuple(commands), tuple(warnings))


def _add(path: Path, scope: str, reserved: frozenset[str], commands: list[CustomCommand],
         warnings: list[str]) -> None:
    name = path.stem
    if not NAME.match(name):
        warnings.append(f"skipped command {path}: the file name must be letters, digits, ., - or _")
        return
    if name.lower() in reserved:
        warnings.append(f"skipped command {path}: /{name} is a built-in command, which wins")
        return
    earlier = next((c for c in commands if c.name == name), None)
    if earlier is not None:
        warnings.append(f"skipped command {path}: /{name} is taken by {earlier.source}")
        return
    try:
        if scope == "project" and path.is_symlink():
            raise FrontMatterError("a symlink (project commands are never read through links)")
        commands.append(parse_command(read_text(path, follow_links=scope == "user"), path, scope))
    except (OSError, FrontMatterError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        warnings.append(f"skipped command {path}: {reason}")


def parse_command(text: str, source: Path, scope: str) -> CustomCommand:
    data, body = split(text, required=False)
    if not body.strip():
        raise FrontMatterError("the command's text (after any front matter) is empty")
    description = text_field(data, "description") or _first_line(body)
    return CustomCommand(source.stem, description, text_field(data, "argument-hint"), body.strip() + "\n",
                         source, scope)


def fill(body: str, arguments: str) -> str:
    """`$ARGUMENTS` and `$1`..`$9` filled; arguments a body never mentions are appended, not lost."""
    arguments = arguments.strip()
    mentions = "$ARGUMENTS" in body or _POSITIONAL.search(body) is not None
    try:
        words = shlex.split(arguments)
    except ValueError:  # an unclosed quote: words as typed
        words = arguments.split()
    filled = body.replace("$ARGUMENTS", arguments)
    filled = _POSITIONAL.sub(lambda m: words[int(m.group(1)) - 1] if int(m.group(1)) <= len(words) else "", filled)
    if arguments and not mentions:
        filled = filled.rstrip("\n") + f"\n\nARGUMENTS: {arguments}\n"
    return filled


def _first_line(body: str) -> str:
    line = next((line.strip().lstrip("#").strip() for line in body.splitlines() if line.strip()), "")
    return line if len(line) <= 80 else line[:79] + "…"
