"""Small CLI commands that read the store or manage the sandbox image (no model needed)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from termagent.console import say
from termagent.store.db import SessionRecord, Store


def sessions_command(args: argparse.Namespace) -> int:
    store = Store()
    try:
        if args.action == "show":
            return _show_session(store, args.id, args.subagents)
        records = listed_sessions(store, limit=50)
        if not records:
            say("no sessions yet")
        for record in records:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.updated_at))
            say(f"{record.id}  {when}  {store.message_count(record.id):4d} msgs  {record.workspace}")
        return 0
    finally:
        store.close()


def listed_sessions(store: Store, workspace: str | None = None, limit: int = 50) -> list[SessionRecord]:
    """Sessions with at least one message: a failed start or a `/clear` leaves an empty
    record behind, and a list full of those hides the sessions a person wants back."""
    found: list[SessionRecord] = []
    for record in store.sessions(workspace, limit=limit * 10):
        if store.message_count(record.id):
            found.append(record)
        if len(found) == limit:
            break
    return found


def _chosen_session(store: Store, session_id: str | None, workspace: str | None = None) -> SessionRecord | None:
    """The session named by id or unique prefix, else the newest; says why when there is none."""
    try:
        record = store.find_session(session_id) if session_id else next(iter(listed_sessions(store, workspace, 1)), None)
    except LookupError as exc:
        say(f"termagent: {exc}", file=sys.stderr)
        return None
    if record is None:
        say(f"termagent: no session matches {session_id!r}" if session_id else "termagent: no stored session yet",
            file=sys.stderr)
    return record


def _show_session(store: Store, session_id: str | None, subagents: bool) -> int:
    record = _chosen_session(store, session_id)
    if record is None:
        return 2
    _print_transcript(store, record, indent="")
    if subagents:
        for child in store.children(record.id):
            say(f"\n=== subagent {child.agent} ({child.id}) ===")
            _print_transcript(store, child, indent="  ")
    return 0


def _print_transcript(store: Store, record: SessionRecord, indent: str) -> None:
    from termagent.store.transcript import format_transcript

    say(indent + format_transcript(store, record).replace("\n", "\n" + indent))


def audit_command(args: argparse.Namespace, workspace: Path) -> int:
    from termagent.terminal_text import strip_terminal_controls

    store = Store()
    try:
        record = _chosen_session(store, args.id, str(workspace))
        if record is None:
            return 2
        say(f"audit log of session {record.id}")
        sessions = [record, *store.children(record.id)]
        for session in sessions:
            for row in store.audit(session.id):
                when = time.strftime("%H:%M:%S", time.localtime(row["created_at"]))
                who = f"{row['decision']} by {row['decided_by']}"
                why = f" ({row['reason']})" if row["reason"] else ""
                line = f"{when} {session.agent:12} {row['tool']:12} {who}{why} -> {row['outcome'] or '-'}  {row['input']}"
                say(strip_terminal_controls(line))
        return 0
    finally:
        store.close()


def trace_command(args: argparse.Namespace, workspace: Path) -> int:
    """`termagent trace [SESSION] --output otlp-json FILE`: a stored session as OTLP/JSON."""
    from termagent.telemetry.replay import write_session_trace

    store = Store()
    try:
        record = _chosen_session(store, args.id, str(workspace))
        if record is None:
            return 2
        count = write_session_trace(store, record.id, args.file)
    finally:
        store.close()
    say(f"wrote {count} spans of session {record.id} to {args.file}", file=sys.stderr)
    return 0


def sandbox_command(args: argparse.Namespace, config: Any, workspace: Path | None = None) -> int:
    from termagent.sandbox.base import SandboxUnavailable
    from termagent.sandbox.image import build_image, sandbox_status
    from termagent.sandbox.maintenance import build_project, prune, status_lines

    workspace = workspace or Path.cwd()
    trusted = bool(getattr(args, "trusted", False))
    try:
        if args.action == "build":
            tag = build_image(config, progress=lambda line: say(line, file=sys.stderr))
            say(f"built {tag}")
            from termagent.sandbox.proxy_image import build_proxy_image

            say(build_proxy_image(config, progress=lambda line: say(line, file=sys.stderr)))
            project = build_project(config, workspace, trusted, lambda line: say(line, file=sys.stderr))
            if project:
                say(project)
            return 0
        if args.action == "prune":
            for line in prune():
                say(line)
            return 0
        status = sandbox_status(config)
        for key, value in status.items():
            say(f"{key}: {value}")
        if status.get("engine") == "reachable":
            for line in status_lines(config, workspace, trusted):
                say(line)
        settings = config.section("sandbox")
        limits = ("memory", "pids", "cpus", "nofile", "tmpfs_size", "timeout_default_s", "timeout_max_s",
                  "output_cap_bytes")
        say("limits: " + ", ".join(f"{name}={settings[name]}" for name in limits))
        network = settings["network"]
        reach = "none" if network["mode"] == "none" else "allowlist via proxy: " + ", ".join(network["allow"])
        say(f"network: {reach}; root filesystem: read-only; writable: /workspace, /tmp, $HOME (tmpfs)")
        if status.get("engine") == "unreachable" and status.get("backend") == "docker":
            say(f"termagent: {status.get('error') or 'the Docker engine is not reachable'}", file=sys.stderr)
            return 5  # a script asking "can commands run here?" gets a no it can act on
        return 0
    except SandboxUnavailable as exc:
        say(f"termagent: {exc}", file=sys.stderr)
        return 5
