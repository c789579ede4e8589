"""Agent Skills (the agentskills.io `SKILL.md` format), found once at session start.

A skill is a folder with a SKILL.md: a front matter (`name`, `description` required;
`allowed-tools`, `disable-model-invocation`; anything else kept and ignored) and a body of
instructions, beside any scripts or reference files it needs. Only names and descriptions
go into the request prefix; the body comes through the `skill` tool when the model wants
it, and the folder's files through `read_file` (progressive disclosure).

Project folders (`.agents/skills/`, `.termagent/skills/`, `.claude/skills/`) count only in
a trusted project and never through a symlink; the person's own folders
(`~/.config/termagent/skills/`, `~/.claude/skills/`) may be links into a dotfiles checkout.
The first skill of a name wins; every file skipped is named in a warning.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termagent.extensions.frontmatter import FrontMatterError, flag_field, list_field, read_text, split, text_field
from termagent.tools.workspace import through_link

PROJECT_DIRS = (".agents/skills", ".termagent/skills", ".claude/skills")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KNOWN_KEYS = frozenset({"name", "description", "allowed-tools", "disable-model-invocation"})
MAX_SKILLS = 500  # a runaway folder must not make session start read thousands of files
DESCRIPTION_CAP = 300  # characters of one description in the prefix
LISTING_BUDGET = 8_000  # characters of the whole listing in the prefix (~2k tokens)


@dataclass(frozen=True)
class Skill:
    """One usable skill; `folder` is its real path, the only place its files are read from."""

    name: str
    description: str
    body: str
    folder: Path
    source: Path  # the SKILL.md as found (its folder may be a link, for a person's own skills)
    scope: str  # "project" | "user"
    allowed_tools: tuple[str, ...] = ()
    model_invocable: bool = True
    other: tuple[tuple[str, str], ...] = ()  # front matter keys termagent does not use, kept as text


@dataclass(frozen=True)
class SkillSet:
    skills: tuple[Skill, ...] = ()
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> Skill | None:
        return next((skill for skill in self.skills if skill.name == name), None)

    def for_model(self) -> tuple[Skill, ...]:
        return tuple(skill for skill in self.skills if skill.model_invocable)

    def folders(self) -> tuple[Path, ...]:
        return tuple(skill.folder for skill in self.skills)


@dataclass
class _Found:
    skills: list[Skill] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def user_skill_dirs() -> tuple[Path, ...]:
    from termagent.extensions.places import claude_dir, termagent_config_dir

    return termagent_config_dir() / "skills", claude_dir() / "skills"


def discover_skills(workspace: Path, trusted: bool, user_dirs: tuple[Path, ...] | None = None) -> SkillSet:
    """Every usable skill, project ones first; and a warning per folder or file left out."""
    found = _Found()
    for relative in PROJECT_DIRS:
        root = workspace / relative
        if not _exists(root):
            continue
        if not trusted:
            found.warnings.append(f"ignoring skills in {root}: this project is not trusted (--trust-project)")
        elif through_link(workspace, root):
            found.warnings.append(f"ignoring skills in {root}: it is reached through a symlink")
        else:
            _scan(root, "project", found)
    for root in user_skill_dirs() if user_dirs is None else user_dirs:
        if root.is_dir():
            _scan(root, "user", found)
    return SkillSet(tuple(found.skills), tuple(found.warnings))


def _scan(root: Path, scope: str, found: _Found) -> None:
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as exc:
        found.warnings.append(f"skills in {root} not read: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if scope == "project" and entry.is_symlink():
            found.warnings.append(f"skipped skill {entry.path}: a symlink (project skills are never read through links)")
            continue
        if not entry.is_dir():
            continue
        if len(found.skills) >= MAX_SKILLS:
            found.warnings.append(f"more than {MAX_SKILLS} skills: the rest (from {entry.path} on) are not loaded")
            return
        _add(Path(entry.path), scope, found)


def _add(folder: Path, scope: str, found: _Found) -> None:
    source = folder / "SKILL.md"
    if not (source.exists() or source.is_symlink()):
        return  # a folder of something else: not a skill, nothing to report
    try:
        skill = parse_skill(read_text(source, follow_links=scope == "user"), source, scope)
    except (OSError, FrontMatterError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            reason = "a symlink (project skills are never read through links)"
        found.warnings.append(f"skipped skill {source}: {reason}")
        return
    earlier = next((s for s in found.skills if s.name == skill.name), None)
    if earlier is not None:
        found.warnings.append(f"skipped skill {source}: the name {skill.name!r} is taken by {earlier.source}")
        return
    found.skills.append(skill)


def parse_skill(text: str, source: Path, scope: str) -> Skill:
    """A Skill from SKILL.md's text; FrontMatterError says what is wrong."""
    data, body = split(text)
    name = text_field(data, "name", required=True)
    if not NAME.match(name):
        raise FrontMatterError(f"name {name!r} must be 1-64 lowercase letters, digits, - or _")
    description = text_field(data, "description", required=True)
    if not body.strip():
        raise FrontMatterError("the instructions (after the front matter) are empty")
    other = tuple((key, _as_text(value)) for key, value in data.items() if key not in KNOWN_KEYS)
    return Skill(name=name, description=description, body=body.strip() + "\n",
                 folder=Path(os.path.realpath(source.parent)), source=source, scope=scope,
                 allowed_tools=list_field(data, "allowed-tools"),
                 model_invocable=not flag_field(data, "disable-model-invocation"), other=other)


def prefix_listing(skills: SkillSet, cap: int = DESCRIPTION_CAP, budget: int = LISTING_BUDGET) -> str:
    """The stable-prefix block naming each skill the model may use ('' when there is none).

    Built once per session, in name order, so it is byte-identical on every request."""
    offered = sorted(skills.for_model(), key=lambda skill: skill.name)
    if not offered:
        return ""
    lines: list[str] = []
    used = 0
    for number, skill in enumerate(offered):
        description = skill.description if len(skill.description) <= cap else skill.description[: cap - 1] + "…"
        line = f"- {skill.name}: {description}"
        if used + len(line) > budget:
            left = [s.name for s in offered[number:]]
            lines.append(f"- ({len(left)} more not described here, to keep this list short: {', '.join(left)})")
            break
        lines.append(line)
        used += len(line) + 1
    return ("<skills>\nSkills are instructions for particular kinds of task. When a task matches one, call "
            "the skill tool with its name before you start: it returns the instructions and the skill's "
            "folder, whose other files (scripts, references) you can read with read_file.\n"
            + "\n".join(lines) + "\n</skills>")


def _exists(path: Path) -> bool:
    return path.is_dir() or path.is_symlink()


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
