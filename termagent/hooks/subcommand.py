"""Subcommands `hooks`, `hook` and `rewind`, wired into termagent.cli by the lead.

Standard library only at import time: termagent.cli builds its parser on every start,
including every hook run, which has to stay fast.
"""

from __future__ import annotations

from termagent.console import say
import argparse
import os
import sys
from pathlib import Path
from typing import Any

from termagent.hooks import HOOK_NAMES

COMMANDS = ("hooks", "hook", "rewind")


def add_subcommands(sub: argparse._SubParsersAction[Any]) -> None:
    hooks = sub.add_parser("hooks", help="install or remove termagent's git hooks in this repository")
    hooks.add_argument("hooks_action", choices=("install", "uninstall"))
    hooks.add_argument("hook_names", nargs="*", metavar="NAME",
                       help=f"which hooks: {', '.join(HOOK_NAMES)} (default: all)")
    hooks.add_argument("--force", action="store_true",
                       help="replace a hook that is already there (it is kept as NAME.termagent-backup)")
    hook = sub.add_parser("hook", help="run one git hook now (the installed hook scripts call this)")
    hook.add_argument("hook_action", choices=("run",))
    hook.add_argument("hook_name", choices=HOOK_NAMES)
    hook.add_argument("hook_args", nargs=argparse.REMAINDER, help="what git passed to the hook")
    rewind = sub.add_parser("rewind", help="restore files to a session's checkpoint (shows the changes, then asks)")
    rewind.add_argument("rewind_session", nargs="?", metavar="SESSION", help="session id or prefix (default: newest)")
    rewind.add_argument("--to", type=int, metavar="N", dest="rewind_to",
                        help="checkpoint number (default: one change back)")
    rewind.add_argument("--yes", action="store_true", dest="rewind_yes", help="do not ask")
    rewind.add_argument("--list", action="store_true", dest="rewind_list", help="only list the checkpoints")


def dispatch(args: argparse.Namespace, workspace: Path) -> int | None:
    """The exit code of one of these commands, or None when `args` is another command."""
    command = getattr(args, "command", None)
    if command == "hooks":
        return _hooks(args, workspace)
    if command == "hook":
        _detach_stdin()
        from termagent.hooks.run import run_hook

        return run_hook(args.hook_name, tuple(args.hook_args), workspace, _overrides(args))
    if command == "rewind":
        from termagent.git.rewind_cli import rewind_command

        return rewind_command(workspace, args.rewind_session, args.rewind_to, args.rewind_yes, args.rewind_list)
    return None


def _hooks(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.hooks.install import HookInstallError, install, uninstall

    unknown = [name for name in args.hook_names if name not in HOOK_NAMES]
    if unknown:
        say(f"termagent hooks: unknown hook {', '.join(unknown)} (choose from {', '.join(HOOK_NAMES)})",
            file=sys.stderr)
        return 2
    names = tuple(dict.fromkeys(args.hook_names)) or HOOK_NAMES
    try:
        if args.hooks_action == "install":
            changes = install(workspace, names, args.force)
        else:
            changes = uninstall(workspace, names)
    except HookInstallError as exc:
        say(f"termagent hooks: {exc}", file=sys.stderr)
        return 2
    for change in changes:
        say(change.line)
    return 1 if any(change.action == "refused" for change in changes) else 0


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The global flags that make sense for a hook (`termagent --sandbox none hook run pre-push`)."""
    overrides: dict[str, dict[str, Any]] = {}
    if getattr(args, "sandbox", None):
        overrides["sandbox"] = {"backend": args.sandbox}
    if getattr(args, "model", None):
        overrides["model"] = {"review": args.model, "subagent": args.model}
    return overrides


def _detach_stdin() -> None:
    """A hook never reads its stdin (a terminal, or git's ref list): point fd 0 at /dev/null
    so neither this process nor anything it starts can block on it (sys.stdin wraps fd 0,
    so it reads /dev/null too)."""
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    except OSError:
        pass
