"""The `skill` tool: a skill's instructions and folder, on the model's request.

The request prefix names the skills; this one fixed tool returns a body only when the
model decides it needs it (progressive disclosure), so adding skills never changes the
tool list. The folders of the session's skills are the only places outside the workspace
`read_file` may read (see `readable_path`); nothing may write there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from termagent.extensions.skills import Skill, SkillSet
from termagent.protocol import RISK_READ
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, one_line, schema

OUTSIDE_NOTE = ("This folder is outside the workspace: read its files with read_file and the absolute paths "
                "above (read-only); bash in the sandbox cannot see it.")


class SkillTool:
    spec = ToolSpec(
        name="skill",
        description=(
            "Load one of the skills listed in the system prompt: returns its instructions (SKILL.md) and "
            "its folder. Call it when a task matches a skill's description, before starting the task, "
            "then follow the instructions; read the skill's other files with read_file when the "
            "instructions point to them. Do not call it for skills that are not listed, or again for a "
            "skill whose instructions you already have in this conversation."
        ),
        input_schema=schema({"name": {"type": "string", "description": "The skill's name, as listed."}},
                            ["name"]),
        risk=RISK_READ,
    )

    def __init__(self, skills: SkillSet, on_use: Callable[[Skill], None] | None = None) -> None:
        self.skills = skills
        self.on_use = on_use  # the session's record of the skill now in use (allowed-tools)

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        name = one_line(str(args.get("name", "")))
        return CallView(name, f"load skill {name}")

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        name = str(args["name"]).strip()
        skill = self.skills.get(name)
        offered = ", ".join(s.name for s in self.skills.for_model()) or "none"
        if skill is None:
            raise ToolError("unknown_skill", f"there is no skill named {name!r}; the skills you can load: {offered}")
        if not skill.model_invocable:
            raise ToolError("skill_not_for_model", f"the skill {name!r} is run only by the person (/{name}), "
                                                   f"not by the model; the skills you can load: {offered}")
        if self.on_use is not None:
            self.on_use(skill)
        return ToolResult(output=skill_text(skill, ctx.root))


def skill_text(skill: Skill, workspace: Path) -> str:
    root = Path(os.path.realpath(workspace))
    inside = skill.folder.is_relative_to(root)
    folder = skill.folder.relative_to(root).as_posix() if inside else str(skill.folder)
    files = _listing(skill.folder)
    lines = [f"Skill {skill.name}", f"Folder: {folder}"]
    if files:
        lines.append("Files: " + ", ".join(files))
    if not inside:
        lines.append(OUTSIDE_NOTE)
    if skill.allowed_tools:
        lines.append("While this skill is in use, only these tools are allowed: " + ", ".join(skill.allowed_tools))
    return "\n".join(lines) + f"\n\n<instructions>\n{skill.body}</instructions>"


def _listing(folder: Path, cap: int = 50) -> list[str]:
    """The folder's files (not following links), so the model knows what it may read."""
    found: list[str] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(current, folder)
        for name in sorted(names):
            if name != "SKILL.md" or rel != ".":
                found.append(name if rel == "." else f"{rel}/{name}")
            if len(found) >= cap:
                return found + ["…"]
    return found

