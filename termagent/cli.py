"""Argument parsing and wiring. Imports only the standard library at module level so
`termagent --help` stays fast; each command imports what it needs when it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from termagent.console import say

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
    parser.add_argument("--sandbox-allow-root", action="store_true",
                        help="run the sandbox even though termagent runs as root (commands get uid 0)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="PATTERN",
                        help="let the sandbox reach this host through its egress proxy, for this run "
                             "(example.com, *.example.org, host:8443, 10.1.2.3); turns on the network allowlist")
    parser.add_argument("--allow-home-workspace", action="store_true",
                        help="accept $HOME, / or an ancestor of $HOME as the workspace (dotfiles stay hidden)")
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
    sandbox = sub.add_parser("sandbox", help="build the sandbox image, show its status, prune its caches")
    sandbox.add_argument("action", choices=("build", "status", "prune"))
    sub.add_parser("replay", help="watch a bundled scripted session (no API key needed)")
    trace = sub.add_parser("trace", help="write a stored session as an OpenTelemetry trace (OTLP/JSON)")
    trace.add_argument("id", help="session id or unique prefix")
    trace.add_argument("--output", dest="trace_format", choices=("otlp-json",), default="otlp-json")
    trace.add_argument("file", type=Path, help="where to write the trace")
    topics = sub.add_parser("help", help="exit codes, json fields, config keys, environment, rule syntax")
    topics.add_argument("topic", nargs="?", help="exit-codes | json | config | environment | rules")
    from termagent.acp.cli import add_subcommand as add_acp_subcommand
    from termagent.hooks.subcommand import add_subcommands

    add_subcommands(sub)
    add_acp_subcommand(sub)
    from termagent.mcp.cli import add_subcommand as add_mcp_subcommand

    add_mcp_subcommand(sub)
    from termagent.evals.cli import add_subcommand as add_eval_subcommand

    add_eval_subcommand(sub)
    from termagent.batch.cli import add_subcommand as add_batch_subcommand

    add_batch_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console entry point. A one-shot run from the command line (`--task`, `hook run`)
    and `acp` go to the warm worker when one can take them (termagent/worker), else run here."""
    if argv is None:
        from termagent.worker.client import delegate

        code = delegate(sys.argv[1:])
        if code is not None:
            return code
    return run(argv)


def run(argv: list[str] | None = None) -> int:
    """Parse and run one command in this process."""
    parser = build_parser()
    args = parser.parse_args(argv)
    workspace = (args.workspace or Path.cwd()).resolve()
    problem = _workspace_problem(workspace)
    if problem:
        return _fail(args, 2, "usage_error", problem)
    try:
        return _dispatch(args, workspace)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `termagent sessions | head`: the reader left, nothing more to say
        _quiet_stdout()
        return 0


def _workspace_problem(workspace: Path) -> str:
    """What is wrong with the workspace a person named (-C), in words; '' when it is usable."""
    if not workspace.exists():
        return f"workspace {workspace} does not exist"
    if not workspace.is_dir():
        return f"workspace {workspace} is not a directory"
    return ""


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _dispatch(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.config import ConfigError

    try:
        from termagent.hooks.subcommand import dispatch as git_dispatch

        code = git_dispatch(args, workspace)
        if code is not None:
            return code
        if args.command == "acp":
            from termagent.acp.cli import dispatch as acp_dispatch

            return acp_dispatch(args, workspace)
        if args.command == "eval":
            from termagent.evals.cli import eval_command

            return eval_command(args, workspace)
        if args.command == "batch":
            from termagent.batch.cli import dispatch as batch_dispatch

            return batch_dispatch(args)
        if args.command == "trace":
            from termagent.commands import trace_command

            return trace_command(args, workspace)
        if args.command == "sessions":
            from termagent.commands import sessions_command

            return sessions_command(args)
        if args.command == "audit":
            from termagent.commands import audit_command

            return audit_command(args, workspace)
        if args.command == "sandbox":
            from termagent.commands import sandbox_command

            return sandbox_command(args, _config(args, workspace), workspace)
        if args.command == "help":
            from termagent.help_topics import help_command

            return help_command(args.topic)
        if args.command == "mcp":
            from termagent.mcp.cli import mcp_command

            return mcp_command(args, workspace, _config(args, workspace))
        if args.command == "replay":
            from termagent.replay import replay_command

            return replay_command()
        _check_workspace(args, workspace)
        if args.task is not None:
            return _headless(args, workspace)
        return _interactive(args, workspace)
    except ConfigError as exc:
        return _fail(args, 2, "usage_error", str(exc))


def _fail(args: argparse.Namespace, code: int, reason: str, message: str) -> int:
    """A failure before any session ran: one line on stderr, and for a headless run with
    json output the result object too, so a script reading stdout learns the reason."""
    say(f"termagent: {message}", file=sys.stderr)
    if args.task is not None and args.command is None and args.output != "text":
        from termagent.headless import early_failure

        early_failure(args.output, reason, message)
    return code


def _check_workspace(args: argparse.Namespace, workspace: Path) -> None:
    """A session never starts in $HOME, / or around termagent's own files unless overridden."""
    from termagent.config import ConfigError
    from termagent.sandbox.host_paths import workspace_problem

    problem = None if args.allow_home_workspace else workspace_problem(workspace)
    if problem:
        raise ConfigError(problem)


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
        ("sandbox", "backend", args.sandbox), ("sandbox", "allow_root", args.sandbox_allow_root or None),
        ("mcp", "config_files", args.mcp_config), ("mcp", "enabled", False if args.no_mcp else None),
    ):
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    if getattr(args, "allow_host", None):
        overrides.setdefault("sandbox", {})["network"] = _allow_hosts(args.allow_host)
    return config.with_overrides(overrides) if overrides else config


def _allow_hosts(patterns: list[str]) -> dict[str, object]:
    """--allow-host for this run: the allowlist mode on, these patterns added to the configured ones."""
    from termagent.config import ConfigError
    from termagent.sandbox.egress_policy import EgressPatternError, parse_pattern

    for pattern in patterns:
        try:
            parse_pattern(pattern)
        except EgressPatternError as exc:
            raise ConfigError(f"--allow-host: {exc}") from None
    return {"mode": "allowlist", "allow": list(patterns)}


def _trusted(args: argparse.Namespace, workspace: Path) -> bool:
    """A project's .termagent/ applies only once trusted; a change to it asks again."""
    from termagent.trust import is_trusted, trust

    if getattr(args, "trust_project", False):
        trust(workspace)
        return True
    if is_trusted(workspace):
        return True
    if args.task is None and args.command is None and sys.stdin.isatty() and sys.stdout.isatty():
        answer = input(f"{workspace} holds settings (.termagent/ rules, prompts, agents; skills; commands; "
                       ".mcp.json servers; Claude Code hooks) "
                       "you have not trusted, or that changed since you did. Apply them? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            trust(workspace)
            return True
    say("termagent: warning: ignoring this project's .termagent/ settings, skills, commands, MCP servers and "
        "hooks until you trust them (--trust-project)", file=sys.stderr)
    return False


def _headless(args: argparse.Namespace, workspace: Path) -> int:
    task = sys.stdin.read() if args.task == "-" else args.task
    if not task.strip():
        return _fail(args, 2, "usage_error", "--task needs a task (got an empty one)")
    config = _config(args, workspace)  # a config error is reported before anything imports the SDK
    from termagent.model.client import warm_import

    warm_import()
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
        return _fail(args, 3, "api_error", str(exc))
    except ResumeError as exc:
        return _fail(args, 2, "usage_error", str(exc))
    try:
        if with_reopen:
            return body(session, lambda resume_id: open_session(
                config, dataclasses.replace(options, resume=resume_id), store))
        return body(session)
    finally:
        store.close()


def _interactive(args: argparse.Namespace, workspace: Path) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        say("termagent: no terminal attached and no --task given; use --task TEXT (or --task -) "
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
