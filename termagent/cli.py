"""Argument parsing and wiring. Imports only the standard library at module level so
`termagent --help` stays fast; each command imports what it needs when it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OUTPUTS = ("text", "json", "stream-json")
MODES = ("plan", "ask", "accept-edits", "auto")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="termagent",
        description="A terminal coding agent. With no command it opens the interactive app; "
        "--task runs one task headless.",
    )
    parser.add_argument("--task", metavar="TEXT", help="run one task headless ('-' reads it from stdin)")
    parser.add_argument("--output", choices=OUTPUTS, default="text", help="headless output format")
    parser.add_argument("--resume", nargs="?", const="", metavar="ID", help="continue the newest (or given) session")
    parser.add_argument("--plain", action="store_true", help="line-mode REPL instead of the full-screen app")
    parser.add_argument("--mode", choices=MODES, help="permission mode (default: ask)")
    parser.add_argument("--allow", action="append", default=[], metavar="RULE", help="allow rule, e.g. 'bash(npm test)'")
    parser.add_argument("--deny", action="append", default=[], metavar="RULE", help="deny rule, e.g. 'bash(git push*)'")
    parser.add_argument("--max-turns", type=int, metavar="N", help="cap on model requests per task")
    parser.add_argument("--max-cost-usd", type=float, metavar="USD", help="cap on spending for the session")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="cap on tokens (in + out) for the session")
    parser.add_argument("--max-wall-s", type=float, metavar="S", help="cap on wall time per task")
    parser.add_argument("--model", help="model for the main agent")
    parser.add_argument("--sandbox", choices=("docker", "none"), help="'none' runs commands on the host, unconfined")
    parser.add_argument("--trust-project", action="store_true", help="apply this project's .termagent/ settings")
    parser.add_argument("--mcp-config", action="append", metavar="FILE", help="MCP servers from a .mcp.json-style file")
    parser.add_argument("--no-mcp", action="store_true", help="start no MCP servers")
    parser.add_argument("-C", "--workspace", type=Path, default=None, help="workspace root (default: current dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sessions = sub.add_parser("sessions", help="list stored sessions, or show one")
    sessions.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    sessions.add_argument("id", nargs="?")
    sessions.add_argument("--subagents", action="store_true", help="with show: include subagent transcripts")
    audit = sub.add_parser("audit", help="print the audit log of a session (default: newest)")
    audit.add_argument("id", nargs="?")
    sandbox = sub.add_parser("sandbox", help="build the sandbox image or show its status")
    sandbox.add_argument("action", choices=("build", "status"))
    sub.add_parser("replay", help="watch a bundled scripted session (no API key needed)")
    from termagent.hooks.cli import add_subcommands

    add_subcommands(sub)
    from termagent.mcp.cli import add_subcommand as add_mcp_subcommand

    add_mcp_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    workspace = (args.workspace or Path.cwd()).resolve()
    try:
        return _dispatch(args, workspace)
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.config import ConfigError

    try:
        from termagent.hooks.cli import dispatch as git_dispatch

        code = git_dispatch(args, workspace)
        if code is not None:
            return code
        if args.command == "sessions":
            from termagent.commands import sessions_command

            return sessions_command(args)
        if args.command == "audit":
            from termagent.commands import audit_command

            return audit_command(args, workspace)
        if args.command == "sandbox":
            from termagent.commands import sandbox_command

            return sandbox_command(args, _config(args, workspace))
        if args.command == "mcp":
            from termagent.mcp.cli import mcp_command

            return mcp_command(args, workspace, _config(args, workspace))
        if args.command == "replay":
            from termagent.replay import replay_command

            return replay_command()
        if args.task is not None:
            return _headless(args, workspace)
        return _interactive(args, workspace)
    except ConfigError as exc:
        print(f"termagent: {exc}", file=sys.stderr)
        return 2


def _config(args: argparse.Namespace, workspace: Path):
    from termagent.config import load_config

    if not hasattr(args, "trusted"):
        args.trusted = _trusted(args, workspace)
    config = load_config(workspace, include_project=args.trusted)
    overrides: dict[str, dict[str, object]] = {}
    for section, key, value in (
        ("permissions", "mode", args.mode), ("limits", "max_turns", args.max_turns),
        ("limits", "max_cost_usd", args.max_cost_usd), ("model", "main", args.model),
        ("limits", "max_tokens", args.max_tokens), ("limits", "max_wall_s", args.max_wall_s),
        ("sandbox", "backend", args.sandbox),
        ("mcp", "config_files", args.mcp_config), ("mcp", "enabled", False if args.no_mcp else None),
    ):
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    return config.with_overrides(overrides) if overrides else config


def _trusted(args: argparse.Namespace, workspace: Path) -> bool:
    """A project's .termagent/ applies only once trusted; a change to it asks again."""
    from termagent.trust import is_trusted, trust

    if getattr(args, "trust_project", False):
        trust(workspace)
        return True
    if is_trusted(workspace):
        return True
    if args.task is None and args.command is None and sys.stdin.isatty() and sys.stdout.isatty():
        answer = input(f"{workspace}/.termagent/ holds settings (rules, prompts, agents) you have not trusted, "
                       "or that changed since you did. Apply them? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            trust(workspace)
            return True
    print("termagent: warning: ignoring this project's .termagent/ settings until you trust them "
          "(--trust-project)", file=sys.stderr)
    return False


def _headless(args: argparse.Namespace, workspace: Path) -> int:
    task = sys.stdin.read() if args.task == "-" else args.task
    if not task.strip():
        print("termagent: --task needs a task (got an empty one)", file=sys.stderr)
        return 2
    from termagent.model.client import warm_import

    warm_import()
    config = _config(args, workspace)
    return _run_session(args, workspace, config, lambda session: _headless_run(session, task, args.output))


def _headless_run(session, task: str, output: str) -> int:
    import asyncio

    from termagent.headless import run_headless

    return asyncio.run(run_headless(session, task, output)).exit_code


def _run_session(args: argparse.Namespace, workspace: Path, config, body, with_reopen: bool = False) -> int:
    """Open the session and hand it to `body`; with `with_reopen`, body also gets
    `reopen(resume_id)` so an interactive front end can start a fresh session (None) or
    resume a stored one (/clear, /resume) on the same store."""
    import dataclasses

    from termagent.core.assembly import ResumeError, SessionOptions, open_session
    from termagent.model.retry import ModelError
    from termagent.store.db import Store

    options = SessionOptions(workspace, interactive=args.task is None, resume=args.resume,
                             allow=tuple(args.allow), deny=tuple(args.deny), trusted=args.trusted)
    store = Store()
    try:
        session = open_session(config, options, store)
    except ModelError as exc:
        print(f"termagent: {exc}", file=sys.stderr)
        return 3
    except ResumeError as exc:
        print(f"termagent: {exc}", file=sys.stderr)
        return 2
    try:
        if with_reopen:
            return body(session, lambda resume_id: open_session(
                config, dataclasses.replace(options, resume=resume_id), store))
        return body(session)
    finally:
        store.close()


def _interactive(args: argparse.Namespace, workspace: Path) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("termagent: no terminal attached and no --task given; use --task TEXT (or --task -) "
              "for non-interactive runs", file=sys.stderr)
        return 2
    config = _config(args, workspace)
    if args.plain:
        from termagent.model.client import warm_import
        from termagent.plain import run_plain

        warm_import()
        return _run_session(args, workspace, config, run_plain, with_reopen=True)
    from termagent.tui import run_tui  # warms the SDK import itself, once its first frame is drawn

    return _run_session(args, workspace, config, run_tui, with_reopen=True)


if __name__ == "__main__":
    sys.exit(main())
