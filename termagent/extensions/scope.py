"""`allowed-tools`: while a skill that names them is in use, only those tools run.

Narrowing the tool list itself would change the request prefix and throw the prompt cache
away, so the list stays as it is and the policy refuses the other tools instead, with a
reason that names the skill; the model sees the refusal and adapts. A skill is in use from
the moment it is loaded (the `skill` tool) or run by the person (`/name`) to the end of
that turn. `allowed-tools` only ever narrows: it never approves a call that would ask (a
repository's file must not widen its own permissions), and a pattern in parentheses
(`Bash(git add:*)`) allows the tool, not just that pattern (see the README).
"""

from __future__ import annotations

import re
from typing import Any

from termagent.extensions.skills import Skill
from termagent.protocol import Event, TurnFinished, TurnStarted

# Claude Code's tool names, as skills written for it list them
CLAUDE_NAMES = {"bash": "bash", "read": "read_file", "write": "write_file", "edit": "edit_file",
                "multiedit": "edit_file", "grep": "grep", "glob": "list_files", "ls": "list_files",
                "task": "delegate"}
ALWAYS = frozenset({"skill"})  # loading another skill's instructions is never refused
_NAME = re.compile(r"^([A-Za-z0-9_]+)")


def tool_names(allowed: tuple[str, ...]) -> frozenset[str]:
    """termagent tool names for an allowed-tools list (`Bash(git:*)` -> bash, `Read` -> read_file)."""
    names = set()
    for item in allowed:
        match = _NAME.match(item)
        if match:
            word = match.group(1)
            names.add(CLAUDE_NAMES.get(word.lower(), word) if word[:1].isupper() else word)
    return frozenset(names)


class SkillScope:
    """The skills in use in the running turn, and the policy check they impose."""

    def __init__(self) -> None:
        self.active: list[Skill] = []
        self._expected: dict[str, Skill] = {}  # turn text -> the skill the person ran with it

    def use(self, skill: Skill) -> None:
        if skill.allowed_tools and skill not in self.active:
            self.active.append(skill)

    def expect(self, turn_text: str, skill: Skill) -> None:
        """The person ran `/name`: the skill is in use once the turn with this text starts."""
        self._expected[turn_text] = skill

    def on_event(self, event: Event) -> None:
        """A bus listener; subagents' events arrive wrapped, so these are the main turn's."""
        if isinstance(event, TurnStarted) and event.text in self._expected:
            self.use(self._expected.pop(event.text))
        elif isinstance(event, TurnFinished):
            self.active.clear()

    def refusal(self, tool: str, args: dict[str, Any]) -> str | None:
        """Why `tool` may not run now, or None."""
        if tool in ALWAYS:
            return None
        for skill in self.active:
            allowed = tool_names(skill.allowed_tools)
            if tool not in allowed:
                return (f"the {skill.name} skill in use allows only {', '.join(sorted(allowed))} "
                        f"(its allowed-tools), not {tool}")
        return None
