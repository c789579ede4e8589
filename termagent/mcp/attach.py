"""Wire MCP into a session: start the servers at once, fix their tools before the first request.

The tool list is settled exactly once, by a before-request hook of the main loop, which
waits for the servers at most the start timeout; after that the registry, the prefix
and the policy never change again, so every request shares the cached prefix.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termagent.mcp.config import load_servers
from termagent.mcp.tools import (
    McpCall,
    McpDescribe,
    McpListResources,
    McpReadResource,
    McpTool,
    McpToolInfo,
    describe,
    tool_name,
)
from termagent.protocol import Warning

INDEX_LINE_CHARS = 100


@dataclass
class McpHandle:
    """What a session keeps of MCP: the manager, and (once settled) the tools it exposed."""

    manager: Any
    before_request: Callable[[Any], Any] | None = None  # the main loop's first hook: settles the tools once
    settled: bool = False
    infos: list[McpToolInfo] = field(default_factory=list)
    deferred: bool = False

    def status(self) -> list[dict[str, Any]]:
        """For headless json and `termagent mcp list`: name, transport, status, tools."""
        return [{"name": s.name, "transport": s.transport, "status": s.status, "tools": s.tools,
                 **({"message": s.message} if s.message else {})} for s in self.manager.statuses()]


    def prompt_commands(self) -> dict[str, str]:
        """`/mcp__server__prompt` slash commands (name -> description) of the servers that offer prompts."""
        found = {}
        for server, connection in self.manager.connections.items():
            for prompt in connection.listing.prompts:
                found[tool_name(server, prompt.name, set())] = prompt.description or f"prompt {prompt.name} of {server}"
        return found

    async def expand_prompt(self, command: str, argument_text: str) -> str:
        """The user message a prompt command stands for; the text fills the prompt's first argument."""
        from termagent.mcp.connection import CallFailed

        for server, connection in self.manager.connections.items():
            for prompt in connection.listing.prompts:
                if tool_name(server, prompt.name, set()) == command.lstrip("/"):
                    names = [a.name for a in prompt.arguments or []]
                    arguments = {names[0]: argument_text} if names and argument_text else {}
                    try:
                        result = await self.manager.run(server, lambda c: c.get_prompt(prompt.name, arguments))
                    except CallFailed as exc:
                        raise ValueError(exc.message) from None
                    return "\n\n".join(getattr(m.content, "text", "") for m in result.messages)
        raise ValueError(f"no MCP prompt {command!r}")


def attach_mcp(config: Any, workspace: Path, trusted: bool, registry: Any, policy: Any, session_id: str,
               emit: Callable[[Any], None], warnings: list[str]) -> McpHandle | None:
    """Start the configured servers in the background; None (and no SDK import) when there are none."""
    section = config.section("mcp")
    if not section["enabled"]:
        return None
    found = load_servers(workspace, trusted, dict(section["servers"]), list(section["config_files"]))
    warnings.extend(found.warnings)
    servers = list(found.servers.values())
    if not servers:
        return None
    from termagent.mcp.manager import McpManager

    manager = McpManager(servers, workspace, float(section["start_timeout_s"]), config, session_id)
    manager.start()
    handle = McpHandle(manager)

    async def settle(agent_loop: Any) -> None:
        if handle.settled:
            return
        handle.settled = True
        try:
            await manager.ready()
        except Exception:  # the per-server timeouts already marked the stragglers failed
            pass
        _install(handle, section, registry, policy, agent_loop)
        for status in manager.statuses():
            if status.status != "ready":
                emit(Warning(f"MCP server {status.name!r} is unavailable, continuing without it: {status.message}"))

    handle.before_request = settle
    return handle


def _install(handle: McpHandle, section: dict[str, Any], registry: Any, policy: Any, loop: Any) -> None:
    taken = set(registry.names())
    for name, connection in handle.manager.connections.items():
        if connection.status == "ready":
            handle.infos.extend(describe(name, tool, taken) for tool in connection.listing.tools)
    specs = [McpTool(handle.manager, info).spec.to_api() for info in handle.infos]
    tokens = len(json.dumps(specs, ensure_ascii=False)) // 4
    handle.deferred = len(specs) > int(section["max_tools"]) or tokens > int(section["max_schema_tokens"])
    tools: list[Any]
    if handle.deferred:
        by_key = {(info.server, info.tool): info for info in handle.infos}
        tools = [McpDescribe(by_key), McpCall(handle.manager, by_key)]
    else:
        tools = [McpTool(handle.manager, info) for info in handle.infos]
    with_resources = [n for n, c in handle.manager.connections.items() if c.status == "ready" and c.listing.offers_resources]
    if with_resources:
        tools += [McpListResources(handle.manager, with_resources), McpReadResource(handle.manager, with_resources)]
    registry.extend(tools)
    policy.destructive_tools = frozenset(info.name for info in handle.infos if info.destructive)
    system = loop.prefix.system_blocks + ((deferred_index(handle.infos),) if handle.deferred else ())
    loop.prefix = dataclasses.replace(loop.prefix, system_blocks=system, tools=tuple(registry.api_tools()))


def deferred_index(infos: list[McpToolInfo]) -> str:
    """One line per deferred tool, so the model knows what exists without paying for schemas."""
    lines = ["MCP tools available through mcp_call(server, tool, arguments); read a tool's schema with "
             "mcp_describe(server, tool) first:"]
    for info in infos:
        lines.append(f"- {info.server}/{info.tool}: {info.description}"[:INDEX_LINE_CHARS])
    return "\n".join(lines)
