"""delegate: hand verbose work to an ephemeral subagent and get back its summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.protocol import RISK_READ, Subject, ViewKind
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, one_line, schema

if TYPE_CHECKING:
    from termagent.core.agents import AgentDefinition
    from termagent.core.subagents import SubagentHost


class DelegateTool:
    """The agent list is an enum fixed at session start, like every other part of the prefix.

    Its risk is `read`: delegating changes nothing by itself, and every tool call the
    subagent makes passes the same policy and approvals as the parent's own.
    """

    NAME = "delegate"  # known before the tool is built: its host needs the policy that needs its rules
    SUBJECT = Subject.AGENT

    def __init__(self, definitions: "dict[str, AgentDefinition]", host: "SubagentHost | None" = None) -> None:
        self.host = host
        names = sorted(definitions)
        catalogue = "\n".join(f"- {name}: {definitions[name].description}" for name in names)
        self.spec = ToolSpec(
            name=self.NAME,
            description=(
                "Run a subagent on a self-contained task; it works in a fresh context and returns a short "
                "summary (status, findings, files, next steps) plus artifact ids of full outputs. Use it for "
                "verbose work: running test suites, digesting big logs, wide codebase exploration. Give the "
                "task everything it needs: the subagent cannot see this conversation. Do NOT use it for a "
                "quick single read or edit you can do yourself.\nAgents:\n" + catalogue
            ),
            input_schema=schema(
                {
                    "agent": {"type": "string", "enum": names, "description": "which subagent"},
                    "task": {"type": "string", "description": "the complete, self-contained task"},
                },
                ["agent", "task"],
            ),
            risk=RISK_READ,
            subject=self.SUBJECT,
        )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        return CallView(one_line(f"{args.get('agent', '')}: {args.get('task', '')}"),
                        f"{args.get('agent', '')}: {args.get('task', '')}", ViewKind.AGENT)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        if self.host is None:
            raise ToolError("unavailable", "delegation is not available in this context")
        definition = self.host.definitions.get(str(args["agent"]))
        if definition is None:
            raise ToolError("unknown_agent", f"no subagent {args['agent']!r}; choose one of "
                            + ", ".join(sorted(self.host.definitions)))
        report = await self.host.run(definition, str(args["task"]), ctx.call_id)
        return ToolResult(output=report.as_tool_output(), ok=report.status == "ok",
                          error_type=None if report.status == "ok" else f"subagent_{report.status}")
