"""Build real sessions in-process against the scripted server (no SDK monkeypatching)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from termagent.config import load_config
from termagent.core.assembly import SessionOptions, open_session
from termagent.core.session import Session
from termagent.protocol import Event
from termagent.store.db import Store
from termagent.testing.scripted_server import ScriptedServer
from termagent.tools.fileaccess import FileAccessFactory, local_files

FAST_RETRIES = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}


def make_session(
    workspace: Path,
    server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    interactive: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
    resume: str | None = None,
    allow: tuple[str, ...] = (),
    store: Store | None = None,
    trusted: bool = False,
    files: FileAccessFactory = local_files,
) -> tuple[Session, list[Event]]:
    """A session with the host sandbox unless overridden, and a list that collects its events."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-key-123456789")
    layers: dict[str, dict[str, Any]] = {"model": dict(FAST_RETRIES), "sandbox": {"backend": "none"}}
    for section, values in (overrides or {}).items():
        layers.setdefault(section, {}).update(values)
    config = load_config(workspace, include_project=trusted).with_overrides(layers)
    options = SessionOptions(workspace, interactive=interactive, resume=resume, allow=allow, trusted=trusted,
                             files=files)
    session = open_session(config, options, store or Store())
    events: list[Event] = []
    session.bus.listen(events.append)
    return session, events


def tool_results(request_body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the newest user message of a recorded request."""
    last = request_body["messages"][-1]
    return [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]


async def eventually(predicate, timeout_s: float = 6.0) -> bool:
    """Poll `predicate` while the session works in the background; True once it holds."""
    import asyncio

    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()
