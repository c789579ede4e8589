"""MCP servers an editor passes with `session/new` or `session/load`.

They join the session exactly as servers from the person's `[mcp.servers]` do (same
connection, tool naming `mcp__NAME__tool`, policy and start-up warnings), by being added
to that table for this session; an editor's server of the same name wins, as a later
config layer does. Transports termagent's MCP client lacks (SSE) are reported instead.
"""

from __future__ import annotations

import re
from typing import Any

SUPPORTED = ("stdio", "http")


def editor_servers(servers: list[Any] | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The editor's servers as `[mcp.servers]` entries, and a warning per server left out."""
    table: dict[str, dict[str, Any]] = {}
    warnings = []
    for server in servers or ():
        name = _name(str(getattr(server, "name", "") or "editor"))
        transport = str(getattr(server, "type", None) or "stdio")
        if transport not in SUPPORTED:
            warnings.append(f"MCP server {name!r} from the editor was not connected: its transport {transport!r} "
                            f"is not supported (use {' or '.join(SUPPORTED)})")
        elif transport == "http":
            table[name] = {"type": "http", "url": str(server.url), "headers": _pairs(server.headers)}
        else:
            table[name] = {"command": str(server.command), "args": [str(a) for a in server.args or ()],
                           "env": _pairs(server.env)}
    return table, warnings


def with_editor_servers(config: Any, table: dict[str, dict[str, Any]]) -> Any:
    if not table:
        return config
    return config.with_overrides({"mcp": {"servers": {**config.get("mcp", "servers"), **table}}})


def _name(raw: str) -> str:
    """A name termagent's tool names can carry (letters, digits, _ and -, at most 40)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-")[:40] or "editor"


def _pairs(items: Any) -> dict[str, str]:
    return {str(item.name): str(item.value) for item in items or ()}
