"""Subagent definitions: markdown files with a small front matter.

Built-ins live in prompts/subagents/; a trusted project adds its own in
.termagent/agents/. A broken definition is reported by file name and skipped, so one
typo never takes the session down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
ROLES = ("main", "subagent", "compaction", "review", "judge")


class AgentDefinitionError(Exception):
    pass


@dataclass(frozen=True)
class AgentDefinition:
    name: str
    description: str
    tools: tuple[str, ...]
    prompt: str
    role: str = "subagent"
    max_turns: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_wall_s: float | None = None
    source: str = ""


def parse_definition(text: str, source: str) -> AgentDefinition:
    """Front matter between `---` lines: `key: value`, lists as `[a, b]` or `a, b`."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", text, re.S)
    if not match:
        raise AgentDefinitionError(f"{source}: missing front matter (--- name/description/tools --- then the prompt)")
    fields: dict[str, str] = {}
    for number, line in enumerate(match.group(1).splitlines(), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AgentDefinitionError(f"{source}:{number}: expected 'key: value', got {line.strip()!r}")
        fields[key.strip()] = value.strip()
    return _build(fields, match.group(2).strip(), source)


def _build(fields: dict[str, str], body: str, source: str) -> AgentDefinition:
    for required in ("name", "description", "tools"):
        if not fields.get(required):
            raise AgentDefinitionError(f"{source}: front matter needs '{required}'")
    name = fields["name"].strip("\"'")
    if not NAME_PATTERN.match(name):
        raise AgentDefinitionError(f"{source}: name {name!r} must be lowercase letters, digits, _ or -")
    role = fields.get("model", "subagent").strip("\"'")
    if role not in ROLES:
        raise AgentDefinitionError(f"{source}: model {role!r} must be one of {', '.join(ROLES)}")
    if not body:
        raise AgentDefinitionError(f"{source}: the prompt (after the front matter) is empty")
    tools = tuple(t.strip().strip("\"'") for t in fields["tools"].strip("[]").split(",") if t.strip())
    try:
        return AgentDefinition(
            name=name, description=fields["description"].strip("\"'"), tools=tools, prompt=body, role=role,
            max_turns=_integer(fields, "max_turns"), max_tokens=_integer(fields, "max_tokens"),
            max_cost_usd=_number(fields, "max_cost_usd", float), max_wall_s=_number(fields, "max_wall_s", float),
            source=source,
        )
    except ValueError as exc:
        raise AgentDefinitionError(f"{source}: {exc}") from None


def _integer(fields: dict[str, str], key: str) -> int | None:
    value = _number(fields, key, int)
    return None if value is None else int(value)


def _number(fields: dict[str, str], key: str, kind: type[int] | type[float]) -> int | float | None:
    raw = fields.get(key)
    if raw is None or raw == "":
        return None
    try:
        value: int | float = kind(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{key} must be positive, got {raw!r}")
    return value


def load_definitions(workspace: Path, include_project: bool, known_tools: set[str]) -> tuple[
    dict[str, AgentDefinition], list[str]
]:
    """All usable definitions by name, and one warning per file that was skipped."""
    found: dict[str, AgentDefinition] = {}
    warnings: list[str] = []
    sources: list[tuple[str, str]] = []
    builtin = resources.files("termagent").joinpath("prompts/subagents")
    for entry in sorted(builtin.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            sources.append((f"prompts/subagents/{entry.name}", entry.read_text(encoding="utf-8")))
    project_dir = workspace / ".termagent" / "agents"
    if include_project and project_dir.is_dir() and not project_dir.is_symlink() and not project_dir.parent.is_symlink():
        for path in sorted(p for p in project_dir.glob("*.md") if not p.is_symlink()):
            sources.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
    for source, text in sources:
        try:
            definition = parse_definition(text, source)
        except AgentDefinitionError as exc:
            warnings.append(f"skipped agent definition {exc}")
            continue
        unknown = [t for t in definition.tools  # MCP tools are known only once their servers answer
                   if (t not in known_tools and not t.startswith("mcp_")) or t == "delegate"]
        if unknown:
            warnings.append(f"skipped agent definition {source}: unknown or forbidden tools {', '.join(unknown)}")
            continue
        found[definition.name] = definition
    return found, warnings
