"""MCP tools as termagent tools: one `mcp__<server>__<tool>` each, or two proxies when deferred.

Names are sanitised to ^[a-zA-Z0-9_-]{1,64}$; schemas pass through; descriptions are
capped. Risk comes from the server's annotations (readOnlyHint -> read, destructiveHint
-> destructive, which asks in every mode, else exec). When the tools would cost too much
of the prefix, only `mcp_describe` and `mcp_call` are exposed, and `mcp_call` names the
real tool to the policy (`policy_target`) so rules such as `mcp__git__*` still apply.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.mcp.results import failure, resource_result, to_tool_result
from termagent.protocol import RISK_EXEC, RISK_READ, CallView
from termagent.tools.base import ToolContext, ToolError, ToolResult, ToolSpec, json_view, schema
from termagent.tools.validation import validate

DESCRIPTION_CAP = 1024
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class McpToolInfo:
    server: str
    tool: str  # the server's own name for it
    name: str  # mcp__server__tool, sanitised
    description: str
    input_schema: dict[str, Any]
    risk: str
    destructive: bool


def tool_name(server: str, tool: str, taken: set[str]) -> str:
    name = _UNSAFE.sub("_", f"mcp__{server}__{tool}")
    if len(name) > 64 or name in taken:
        digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
        name = f"{name[:55]}_{digest}"
    return name


def describe(server: str, tool: Any, taken: set[str]) -> McpToolInfo:
    notes = getattr(tool, "annotations", None)
    read_only = bool(getattr(notes, "read_only_hint", False))
    destructive = not read_only and bool(getattr(notes, "destructive_hint", False))
    text = " ".join((tool.description or tool.title or f"{tool.name} (MCP server {server})").split())
    if len(text) > DESCRIPTION_CAP:
        text = text[: DESCRIPTION_CAP - 1] + "…"
    input_schema = dict(tool.input_schema or {"type": "object", "properties": {}})
    input_schema.setdefault("type", "object")
    name = tool_name(server, tool.name, taken)
    taken.add(name)
    return McpToolInfo(server, tool.name, name, text, input_schema, RISK_READ if read_only else RISK_EXEC, destructive)


async def call(manager: Any, info: McpToolInfo, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    from termagent.mcp.connection import CallFailed

    if ctx.before_change is not None and info.risk != RISK_READ:
        await ctx.before_change("")
    try:
        result = await manager.run(info.server, lambda c: c.call_tool(info.tool, args))
    except CallFailed as exc:
        return failure(exc.kind, exc.message, exc.retryable)
    return to_tool_result(result, ctx, info.name)


class McpTool:
    def __init__(self, manager: Any, info: McpToolInfo) -> None:
        self.manager = manager
        self.info = info
        self.spec = ToolSpec(info.name, info.description, info.input_schema, info.risk)

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """Shown as its input: an MCP tool says nothing more about itself."""
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return await call(self.manager, self.info, args, ctx)


class McpDescribe:
    spec = ToolSpec(
        "mcp_describe",
        "Show the description and input schema of one deferred MCP tool (listed in the system prompt), "
        "before calling it with mcp_call.",
        schema({"server": {"type": "string"}, "tool": {"type": "string"}}, ["server", "tool"]),
        RISK_READ,
    )

    def __init__(self, deferred: dict[tuple[str, str], McpToolInfo]) -> None:
        self.deferred = deferred

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """Shown as its input: an MCP tool says nothing more about itself."""
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        info = _find(self.deferred, args)
        return ToolResult(json.dumps({"server": info.server, "tool": info.tool, "description": info.description,
                                      "input_schema": info.input_schema,
                                      "risk": "destructive" if info.destructive else info.risk}, indent=1))


class McpCall:
    spec = ToolSpec(
        "mcp_call",
        "Call a deferred MCP tool (listed in the system prompt) with its arguments; read its schema with "
        "mcp_describe first. Permission rules apply to the real tool, named mcp__<server>__<tool>.",
        schema({"server": {"type": "string"}, "tool": {"type": "string"}, "arguments": {"type": "object"}},
               ["server", "tool"]),
        RISK_EXEC,
    )

    def __init__(self, manager: Any, deferred: dict[tuple[str, str], McpToolInfo]) -> None:
        self.manager = manager
        self.deferred = deferred

    def policy_target(self, args: dict[str, Any]) -> tuple[str, dict[str, Any], str] | None:
        """The tool the policy judges and the audit names: the real one, never the proxy."""
        info = self.deferred.get((str(args.get("server")), str(args.get("tool"))))
        if info is None:
            return None
        given = args.get("arguments")
        arguments: dict[str, Any] = given if isinstance(given, dict) else {}
        return info.name, arguments, info.risk

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """Shown as its input: an MCP tool says nothing more about itself."""
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        info = _find(self.deferred, args)
        arguments = args.get("arguments") or {}
        errors = validate(arguments, info.input_schema, "arguments")
        if errors:
            raise ToolError("invalid_input", f"{info.name}: " + "; ".join(errors))
        return await call(self.manager, info, arguments, ctx)


class McpListResources:
    spec = ToolSpec("mcp_list_resources", "List the resources MCP servers offer (all servers, or one).",
                    schema({"server": {"type": "string"}}, []), RISK_READ)

    def __init__(self, manager: Any, servers: list[str]) -> None:
        self.manager = manager
        self.servers = servers

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """Shown as its input: an MCP tool says nothing more about itself."""
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from termagent.mcp.connection import CallFailed

        wanted = [args["server"]] if args.get("server") else self.servers
        lines: list[str] = []
        for server in wanted:
            _check_server(server, self.servers)
            try:
                listing = await self.manager.run(server, lambda c: c.list_resources())
            except CallFailed as exc:
                lines.append(f"{server}: unavailable ({exc.message})")
                continue
            for item in listing.resources:
                lines.append(f"{server}\t{item.uri}\t{item.name}" + (f" - {item.description}" if item.description else ""))
        return ToolResult("\n".join(lines) or "no resources")


class McpReadResource:
    spec = ToolSpec("mcp_read_resource", "Read one resource of an MCP server by its URI.",
                    schema({"server": {"type": "string"}, "uri": {"type": "string"}}, ["server", "uri"]), RISK_READ)

    def __init__(self, manager: Any, servers: list[str]) -> None:
        self.manager = manager
        self.servers = servers

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        """Shown as its input: an MCP tool says nothing more about itself."""
        return json_view(args)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from termagent.mcp.connection import CallFailed

        _check_server(args["server"], self.servers)
        try:
            result = await self.manager.run(args["server"], lambda c: c.read_resource(args["uri"]))
        except CallFailed as exc:
            return failure(exc.kind, exc.message, exc.retryable)
        return resource_result(result, ctx, f"{args['server']} {args['uri']}")


def _find(deferred: dict[tuple[str, str], McpToolInfo], args: dict[str, Any]) -> McpToolInfo:
    info = deferred.get((args["server"], args["tool"]))
    if info is None:
        known = sorted({server for server, _ in deferred})
        raise ToolError("unknown_tool", f"no deferred MCP tool {args['tool']!r} on server {args['server']!r}; "
                        f"servers: {', '.join(known)} (the system prompt lists their tools)")
    return info


def _check_server(server: str, servers: list[str]) -> None:
    if server not in servers:
        raise ToolError("unknown_server", f"no MCP server {server!r} offers resources; those that do: "
                        f"{', '.join(servers) or 'none'}")
