"""Which MCP servers a session uses: `.mcp.json`, `[mcp.servers.NAME]`, `--mcp-config FILE`.

`.mcp.json` is Claude Code's format and belongs to the repository, so, like `.termagent/`,
it applies only once the project is trusted; an untrusted one is named in a warning.
`${VAR}` and `${VAR:-default}` expand in command, args, env, url and headers, so secrets
stay in the person's environment rather than in the file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
KEYS = frozenset({"type", "command", "args", "env", "url", "headers", "timeout_s", "sandbox"})
DEFAULT_CALL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ServerConfig:
    """One server; `transport` is "stdio" (command) or "http" (url)."""

    name: str
    transport: str
    source: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    sandbox: bool = False


@dataclass
class Servers:
    servers: dict[str, ServerConfig] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def project_file(workspace: Path) -> Path:
    return workspace / ".mcp.json"


def load_servers(workspace: Path, trusted: bool, user_servers: dict[str, Any],
                 extra_files: list[str]) -> Servers:
    """User config first, then the trusted project's `.mcp.json`, then `--mcp-config` files (later wins)."""
    found = Servers()
    _add_table(found, user_servers, "user config [mcp.servers]")
    path = project_file(workspace)
    if path.is_file() or path.is_symlink():
        if trusted and not path.is_symlink():
            _add_file(found, path)
        else:
            found.warnings.append(f"ignoring {path}: MCP servers from an untrusted project do not start "
                                  "(trust it with --trust-project)")
    for extra in extra_files:
        _add_file(found, Path(extra).expanduser())
    return found


def _add_file(found: Servers, path: Path) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        found.warnings.append(f"MCP config {path} not read: {exc}")
        return
    table = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        found.warnings.append(f"MCP config {path} has no \"mcpServers\" object")
        return
    _add_table(found, table, str(path))


def _add_table(found: Servers, table: dict[str, Any], source: str) -> None:
    for name, raw in table.items():
        try:
            found.servers[name] = parse_server(name, raw, source)
        except ValueError as exc:
            found.warnings.append(f"MCP server {name!r} from {source} skipped: {exc}")


def parse_server(name: str, raw: Any, source: str) -> ServerConfig:
    """Validate one entry; raises ValueError saying what is wrong."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(name)):
        raise ValueError("the name must be 1-40 letters, digits, _ or -")
    if not isinstance(raw, dict):
        raise ValueError("the entry must be an object/table")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)}")
    kind = raw.get("type") or ("http" if "url" in raw else "stdio")
    timeout = float(raw.get("timeout_s", DEFAULT_CALL_TIMEOUT_S))
    if timeout <= 0:
        raise ValueError("timeout_s must be positive")
    if kind in ("http", "streamable-http", "streamable_http"):
        url = expand(_text(raw.get("url"), "url"))
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url {url!r} is not http(s)")
        return ServerConfig(name, "http", source, url=url, headers=_pairs(raw.get("headers"), "headers"),
                            timeout_s=timeout)
    if kind != "stdio":
        raise ValueError(f"transport {kind!r} is not supported (stdio or http)")
    args = raw.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of strings")
    return ServerConfig(name, "stdio", source, command=expand(_text(raw.get("command"), "command")),
                        args=tuple(expand(a) for a in args), env=_pairs(raw.get("env"), "env"),
                        timeout_s=timeout, sandbox=bool(raw.get("sandbox", False)))


def expand(text: str) -> str:
    """`${VAR}` from the environment, `${VAR:-default}` with a fallback; an unset VAR is an error."""

    def one(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is not None:
            return value
        if match.group(2) is not None:
            return match.group(2)
        raise ValueError(f"environment variable {match.group(1)} is not set")

    return _VAR.sub(one, text)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _pairs(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{key} must map names to strings")
    return tuple((str(k), expand(v)) for k, v in value.items())
