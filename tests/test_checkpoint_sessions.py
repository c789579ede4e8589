"""Checkpoints taken by a real session before it changes files, and undone afterwards."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from termagent.git import list_checkpoints, rewind, undo_last
from termagent.headless import run_headless
from termagent.protocol import Warning
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import make_session


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


async def test_agent_edits_are_checkpointed_and_undone_without_touching_head(tmp_path, scripted_server,
                                                                          monkeypatch):
    ws = tmp_path / "repo"
    ws.mkdir()
    git(ws, "init", "-q")
    (ws / "keep.txt").write_text("original\n")
    git(ws, "add", "keep.txt")
    git(ws, "commit", "-qm", "init")
    head = git(ws, "rev-parse", "HEAD")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "keep.txt"})),
        reply(tool_use("write_file", {"path": "keep.txt", "content": "clobbered\n"}),
              tool_use("write_file", {"path": "new.txt", "content": "new\n"})),
        reply(text("done")),
    )
    session, _ = make_session(ws, scripted_server, monkeypatch, overrides={"permissions": {"mode": "accept-edits"}})
    result = await run_headless(session, "edit", "json", io.StringIO(), io.StringIO())
    assert result.exit_code == 0 and (ws / "keep.txt").read_text() == "clobbered\n"
    checkpoints = list_checkpoints(ws, session.session_id)
    assert [c.reason for c in checkpoints] == ["before changing keep.txt", "before changing new.txt"]
    await undo_last(ws, session.session_id)  # one step back: new.txt goes, keep.txt stays edited
    assert not (ws / "new.txt").exists() and (ws / "keep.txt").read_text() == "clobbered\n"
    rewind(ws, session.session_id, 1)
    assert (ws / "keep.txt").read_text() == "original\n" and not (ws / "new.txt").exists()
    assert git(ws, "rev-parse", "HEAD") == head and git(ws, "status", "--porcelain") == ""


async def test_outside_a_repository_the_session_says_checkpoints_are_off(tmp_path, scripted_server, monkeypatch):
    scripted_server.add(reply(text("hi")))
    session, events = make_session(tmp_path, scripted_server, monkeypatch)
    await run_headless(session, "hi", "json", io.StringIO(), io.StringIO())
    assert any(isinstance(e, Warning) and "not inside a git repository" in e.message for e in events)
