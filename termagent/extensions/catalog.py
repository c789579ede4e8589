"""A session's skills and custom commands, loaded together once at start.

The session holds one Extensions and answers the front ends' questions from it (what is
there, what does `/name args` send), so the files are read once and never re-read while
the request prefix depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from termagent.extensions.commands import CommandSet, discover_commands, fill
from termagent.extensions.skills import Skill, SkillSet, discover_skills

if TYPE_CHECKING:
    from termagent.tools.base import Tool


@dataclass(frozen=True)
class Extensions:
    skills: SkillSet = field(default_factory=SkillSet)
    commands: CommandSet = field(default_factory=CommandSet)
    warnings: tuple[str, ...] = ()

    def skill_run_by(self, name: str) -> Skill | None:
        """The skill `/name` runs (None when a custom command has the name, or nothing does)."""
        return None if self.commands.get(name) is not None else self.skills.get(name)

    def expand(self, name: str, arguments: str) -> str | None:
        """The user turn `/name arguments` stands for; None when no command or skill has the name.

        A custom command wins over a skill of the same name (the loader warned about it).
        A skill runs also when model invocation is disabled: the person chose it."""
        command = self.commands.get(name)
        if command is not None:
            return fill(command.body, arguments)
        skill = self.skills.get(name)
        return skill_turn(skill, arguments) if skill is not None else None


def load_extensions(workspace: Path, trusted: bool, user_skill_dirs: tuple[Path, ...] | None = None,
                    user_command_dirs: tuple[Path, ...] | None = None) -> Extensions:
    skills = discover_skills(workspace, trusted, user_skill_dirs)
    commands = discover_commands(workspace, trusted, frozenset(), user_command_dirs)
    clashes = []
    for command in commands.commands:
        skill = skills.get(command.name)
        if skill is not None:
            clashes.append(f"/{command.name} runs the command {command.source}, not the skill {skill.source} "
                           "(the model can still use the skill)")
    return Extensions(skills, commands, skills.warnings + commands.warnings + tuple(clashes))


def skill_tools(extensions: Extensions, on_use: Callable[[Skill], None] | None = None) -> list["Tool"]:
    """The `skill` tool when the model has a skill to load; none at all otherwise (the tool
    list is fixed for the session, so this is decided once, here)."""
    if not extensions.skills.for_model():
        return []
    from termagent.tools.skill import SkillTool

    return [SkillTool(extensions.skills, on_use)]


def skill_turn(skill: Skill, arguments: str) -> str:
    """What `/skill-name args` sends: the instructions and where the skill's files are."""
    body = fill(skill.body, arguments) if "$ARGUMENTS" in skill.body else skill.body
    request = f"\n\n{arguments.strip()}" if arguments.strip() and "$ARGUMENTS" not in skill.body else ""
    return (f"Use the {skill.name} skill for this (I ran /{skill.name}). Its folder is {skill.folder}; "
            f"its other files can be read with read_file.\n\n<skill name=\"{skill.name}\">\n{body}</skill>"
            + request)
