"""MCP servers an editor passes with `session/new` or `session/load`.

termagent has no MCP client yet, so `attach_mcp_servers` is the one hook where it will
plug in: it gets the servers as plain records and says what it could not connect. Until
then every server is kept (on the session's bridge, for a later client) and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from termagent.core.door import SessionLike


@dataclass(frozen=True)
class McpServerSpec:
    """An MCP server as the editor described it: a command to spawn, or a URL to reach."""

    name: str
    transport: str  # stdio, http, sse, acp
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str = ""
    headers: tuple[tuple[str, str], ...] = ()


def specs_from_acp(servers: list[Any] | None) -> tuple[McpServerSpec, ...]:
    specs = []
    for server in servers or ():
        specs.append(McpServerSpec(
            name=str(getattr(server, "name", "")), transport=str(getattr(server, "type", None) or "stdio"),
            command=str(getattr(server, "command", "") or ""), args=tuple(getattr(server, "args", None) or ()),
            env=_pairs(getattr(server, "env", None)), url=str(getattr(server, "url", "") or ""),
            headers=_pairs(getattr(server, "headers", None))))
    return tuple(specs)


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(item.name), str(item.value)) for item in items or ())


def attach_mcp_servers(session: SessionLike, servers: tuple[McpServerSpec, ...]) -> list[str]:
    """Connect `servers` to `session`'s tools; returns a warning per server left unconnected."""
    return [f"MCP server {spec.name!r} ({spec.transport}) was not connected: termagent has no MCP client yet"
            for spec in servers]
