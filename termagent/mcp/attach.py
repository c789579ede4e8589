"""Wire MCP into a session: start the servers at once, fix their tools before the first request.

The tool list is settled exactly once, by a before-request hook of the main loop, which
waits for the servers at most the start timeout; after that the registry, the prefix
and the policy never change again, so every request shares the cached prefix.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from termagent.core.request_hooks import PendingRequest

INDEX_LINE_CHARS = 100


class McpHandle:
    """What a session keeps of MCP: the manager, and (once settled) the tools it exposed.

    Made with everything it will change at settle time (the registry it extends, where it
    warns); the policy asks it which tools are destructive, so nothing is pushed into the
    policy afterwards.
    """

    def __init__(self, manager: Any, section: dict[str, Any], registry: Any, emit: Callable[[Any], None]) -> None:
        self.manager = manager
        self.settled = False
        self.infos: list[McpToolInfo] = []
        self.deferred = False
        self._section, self._registry, self._emit = section, registry, emit
        self._destructive: frozenset[str] = frozenset()

    def is_destructive(self, tool: str) -> bool:
        """The server marks the tool destructiveHint (always False before the tools settle)."""
        return tool in self._destructive

    async def before_request(self, loop: "PendingRequest") -> None:
        """The main loop's first hook: waits for the servers once, then fixes the tool list."""
        if self.settled:
            return
        self.settled = True
        try:
            await self.manager.ready()
        except Exception:  # the per-server timeouts already marked the stragglers failed
            pass
        self._install(loop)
        for status in self.manager.statuses():
            if status.status != "ready":
                self._emit(Warning(f"MCP server {status.name!r} is unavailable, continuing without it: "
                                   f"{status.message}"))

    def _install(self, loop: "PendingRequest") -> None:
        taken = set(self._registry.names())
        for name, connection in self.manager.connections.items():
            if connection.status == "ready":
                self.infos.extend(describe(name, tool, taken) for tool in connection.listing.tools)
        self.deferred = _too_big(self.infos, self.manager, self._section)
        self._registry.extend(_tools(self.manager, self.infos, self.deferred))
        self._destructive = frozenset(info.name for info in self.infos if info.destructive)
        system = loop.prefix.system_blocks + ((deferred_index(self.infos),) if self.deferred else ())
        loop.prefix = dataclasses.replace(loop.prefix, system_blocks=system, tools=tuple(self._registry.api_tools()))

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


def attach_mcp(config: Any, workspace: Path, trusted: bool, registry: Any, session_id: str,
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
    return McpHandle(manager, section, registry, emit)


def _too_big(infos: list[McpToolInfo], manager: Any, section: dict[str, Any]) -> bool:
    """Too many tools, or schemas too large, to send in every request: defer them behind two tools."""
    specs = [McpTool(manager, info).spec.to_api() for info in infos]
    tokens = len(json.dumps(specs, ensure_ascii=False)) // 4
    return len(specs) > int(section["max_tools"]) or tokens > int(section["max_schema_tokens"])


def _tools(manager: Any, infos: list[McpToolInfo], deferred: bool) -> list[Any]:
    tools: list[Any]
    if deferred:
        by_key = {(info.server, info.tool): info for info in infos}
        tools = [McpDescribe(by_key), McpCall(manager, by_key)]
    else:
        tools = [McpTool(manager, info) for info in infos]
    with_resources = [n for n, c in manager.connections.items() if c.status == "ready" and c.listing.offers_resources]
    if with_resources:
        tools += [McpListResources(manager, with_resources), McpReadResource(manager, with_resources)]
    return tools


def deferred_index(infos: list[McpToolInfo]) -> str:
    """One line per deferred tool, so the model knows what exists without paying for schemas."""
    lines = ["MCP tools available through mcp_call(server, tool, arguments); read a tool's schema with "
             "mcp_describe(server, tool) first:"]
    for info in infos:
        lines.append(f"- {info.server}/{info.tool}: {info.description}"[:INDEX_LINE_CHARS])
    return "\n".join(lines)
