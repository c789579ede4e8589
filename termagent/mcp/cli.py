"""`termagent mcp list | add | remove`: see and edit the configured MCP servers.

`add` writes the user config (`[mcp.servers.NAME]`) or, with --project, the project's
`.mcp.json`; `remove` takes the server out of whichever of the two holds it. `list`
starts every server once, as a session would, and reports what it offers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def add_subcommand(sub: Any) -> None:
    mcp = sub.add_parser("mcp", help="list, add or remove MCP servers")
    actions = mcp.add_subparsers(dest="mcp_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="start each server once: transport, status, tools, prefix token cost")
    add = actions.add_parser("add", help="add a server: NAME -- CMD ARGS... or NAME --url URL")
    add.add_argument("name")
    add.add_argument("--project", action="store_true", help="write the project's .mcp.json, not the user config")
    add.add_argument("--url", help="a Streamable HTTP server")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for a stdio server")
    add.add_argument("--header", action="append", default=[], metavar="KEY:VALUE", help="HTTP header")
    add.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ARGS... for a stdio server")
    remove = actions.add_parser("remove", help="remove a server by name")
    remove.add_argument("name")
    remove.add_argument("--project", action="store_true", help="only from the project's .mcp.json")


def mcp_command(args: argparse.Namespace, workspace: Path, config: Any) -> int:
    if args.mcp_action == "list":
        return _list(config, workspace, bool(getattr(args, "trusted", False)))
    if args.mcp_action == "add":
        return _add(args, workspace)
    return _remove(args, workspace)


def _options_before_command(args: argparse.Namespace) -> list[str]:
    """Options may also follow NAME (argparse hands everything after it over): the command follows `--`."""
    tokens = list(args.argv)
    head, argv = (tokens[:tokens.index("--")], tokens[tokens.index("--") + 1:]) if "--" in tokens else (tokens, [])
    late = argparse.ArgumentParser(prog="termagent mcp add", add_help=False)
    late.add_argument("--project", action="store_true")
    late.add_argument("--url")
    late.add_argument("--env", action="append", default=[])
    late.add_argument("--header", action="append", default=[])
    found, rest = late.parse_known_args(head)
    args.project, args.url = args.project or found.project, args.url or found.url
    args.env, args.header = args.env + found.env, args.header + found.header
    return rest + argv


def _entry(args: argparse.Namespace) -> dict[str, Any]:
    argv = _options_before_command(args)
    if bool(args.url) == bool(argv):
        raise ValueError("give either --url URL or -- CMD ARGS...")
    if args.url:
        headers = dict(h.split(":", 1) for h in args.header)
        return {"type": "http", "url": args.url, **({"headers": {k.strip(): v.strip() for k, v in headers.items()}}
                                                     if headers else {})}
    env = dict(e.split("=", 1) for e in args.env)
    return {"command": argv[0], "args": argv[1:], **({"env": env} if env else {})}


def _add(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.mcp.config import parse_server

    try:
        entry = _entry(args)
        parse_server(args.name, entry, "command line")
    except ValueError as exc:
        print(f"termagent mcp add: {exc}", file=sys.stderr)
        return 2
    if args.project:
        path = workspace / ".mcp.json"
        data = _read_json(path)
        data.setdefault("mcpServers", {})[args.name] = entry
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    else:
        path = _user_path()
        _remove_table(path, args.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(_toml_table(args.name, entry))
    print(f"added MCP server {args.name!r} to {path}")
    return 0


def _remove(args: argparse.Namespace, workspace: Path) -> int:
    removed = []
    project = workspace / ".mcp.json"
    data = _read_json(project) if project.is_file() else {}
    if args.name in data.get("mcpServers", {}):
        del data["mcpServers"][args.name]
        project.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        removed.append(str(project))
    if not args.project and _remove_table(_user_path(), args.name):
        removed.append(str(_user_path()))
    if not removed:
        print(f"termagent mcp remove: no MCP server named {args.name!r}", file=sys.stderr)
        return 1
    print(f"removed MCP server {args.name!r} from {', '.join(removed)}")
    return 0


def _list(config: Any, workspace: Path, trusted: bool) -> int:
    from termagent.mcp.config import load_servers
    from termagent.mcp.tools import McpTool, describe

    section = config.section("mcp")
    found = load_servers(workspace, trusted, dict(section["servers"]), list(section["config_files"]))
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not found.servers:
        print("no MCP servers configured")
        return 0
    from termagent.mcp.manager import McpManager

    manager = McpManager(list(found.servers.values()), workspace, float(section["start_timeout_s"]), config, "mcp-list")
    manager.start()
    try:
        manager.ready_blocking()
    except Exception:
        pass
    print(f"{'NAME':<16} {'TRANSPORT':<9} {'STATUS':<8} {'TOOLS':>5} {'PREFIX TOKENS':>13}")
    for status in manager.statuses():
        connection = manager.connections[status.name]
        specs = [McpTool(manager, describe(status.name, t, set())).spec.to_api() for t in connection.listing.tools]
        tokens = len(json.dumps(specs, ensure_ascii=False)) // 4
        print(f"{status.name:<16} {status.transport:<9} {status.status:<8} {status.tools:>5} {tokens:>13}")
        if status.message:
            print(f"  {status.message}")
    manager.close_blocking()
    return 0


def _user_path() -> Path:
    from termagent.config import user_config_path

    return user_config_path()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _toml_table(name: str, entry: dict[str, Any]) -> str:
    """JSON strings and arrays are valid TOML values, so json.dumps quotes them safely."""
    lines = [f"\n[mcp.servers.{name}]"]
    subtables = []
    for key, value in entry.items():
        if isinstance(value, dict):
            subtables.append(f"[mcp.servers.{name}.{key}]\n" + "".join(
                f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in value.items()))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n" + "".join(subtables)


def _remove_table(path: Path, name: str) -> bool:
    """Drop `[mcp.servers.NAME]` and its sub-tables from the user config; True if there was one."""
    if not path.is_file():
        return False
    header = re.compile(r"^\s*\[")
    mine = re.compile(rf"^\s*\[mcp\.servers\.{re.escape(name)}(\.[^\]]+)?\]\s*$")
    kept, skipping, found = [], False, False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if header.match(line):
            skipping = bool(mine.match(line))
            found = found or skipping
        if not skipping:
            kept.append(line)
    if found:
        path.write_text("".join(kept), encoding="utf-8")
    return found
