"""The `acp` subcommand's arguments and dispatch; standard library only at import time,
because termagent.cli builds its parser (and so imports this) on every start."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MODES = ("plan", "ask", "accept-edits", "auto")


def add_subcommand(sub: argparse._SubParsersAction[Any]) -> None:
    acp = sub.add_parser("acp", help="serve the Agent Client Protocol on stdin/stdout (Zed, Toad, other editors)")
    # SUPPRESS keeps the top-level value (`termagent --sandbox none acp`) when the flag is not repeated here
    acp.add_argument("--sandbox", choices=("docker", "none"), default=argparse.SUPPRESS,
                     help="'none' runs commands on the host, unconfined")
    acp.add_argument("--mode", choices=MODES, default=argparse.SUPPRESS, help="permission mode of new sessions")
    acp.add_argument("--model", default=argparse.SUPPRESS, help="model for the main agent")
    acp.add_argument("--trust-project", action="store_true", default=argparse.SUPPRESS,
                     help="apply each workspace's .termagent/ settings")


def dispatch(args: argparse.Namespace, workspace: Path) -> int:
    """The exit code of `termagent acp`."""
    from termagent.acp.agent import AgentSettings
    from termagent.acp.server import run

    overrides: dict[str, dict[str, Any]] = {}
    for section, key, value in (("permissions", "mode", args.mode), ("model", "main", args.model),
                                ("sandbox", "backend", args.sandbox), ("limits", "max_turns", args.max_turns),
                                ("limits", "max_cost_usd", args.max_cost_usd),
                                ("limits", "max_tokens", args.max_tokens), ("limits", "max_wall_s", args.max_wall_s)):
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    return run(AgentSettings(overrides, tuple(args.allow), tuple(args.deny), bool(args.trust_project)))
