"""`termagent replay`: a bundled scripted session, played through the real client.

A newcomer without an API key can watch the agent work: the scripted model server the
tests use serves a recorded conversation over real HTTP, and the real session runs its
real tools against a throwaway copy of a tiny demo project.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from termagent.console import say

BANNER = "=== REPLAY: a scripted model, not a live one (no API key used) ==="


def replay_command() -> int:
    from termagent.testing.scripted_server import ScriptedServer

    script = json.loads(resources.files("termagent").joinpath("replay/demo.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="termagent-replay-") as tmp:
        workspace = Path(tmp) / "demo"
        shutil.copytree(str(resources.files("termagent").joinpath("replay/demo_project")), workspace)
        with ScriptedServer(script["steps"], chunk_delay_s=0.01) as server:
            os.environ["ANTHROPIC_BASE_URL"] = server.url
            os.environ.setdefault("ANTHROPIC_API_KEY", "replay")
            say(BANNER, file=sys.stderr)
            say(f"task: {script['task']}\nworkspace: {workspace} (a temporary copy)\n", file=sys.stderr)
            code = _run(workspace, script["task"])
            say(f"\n--- stats.py after the session ---\n{(workspace / 'stats.py').read_text()}", file=sys.stderr)
            say(BANNER, file=sys.stderr)
            return code


def _run(workspace: Path, task: str) -> int:
    from termagent.config import load_config
    from termagent.core.assembly import SessionOptions, open_session
    from termagent.headless import run_headless
    from termagent.store.db import Store

    config = load_config(workspace).with_overrides({"permissions": {"mode": "accept-edits"}})
    store = Store(workspace.parent / "replay.db")
    try:
        session = open_session(config, SessionOptions(workspace, interactive=False), store)
        session.bus.listen(_narrate)
        return asyncio.run(run_headless(session, task, "text")).exit_code
    finally:
        store.close()


def _narrate(event) -> None:
    from termagent.protocol import AssistantMessage, ToolCallFinished, ToolCallStarted

    if isinstance(event, AssistantMessage):
        say(f"assistant: {event.text}", file=sys.stderr)
    elif isinstance(event, ToolCallStarted):
        say(f"  -> {event.name} {event.gist}", file=sys.stderr)
    elif isinstance(event, ToolCallFinished):
        say(f"     {'ok' if event.ok else 'failed'} ({event.duration_s:.3f}s)", file=sys.stderr)
