"""The workspace watcher with real inotify: outside edits reach the model, the agent's own do not."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from termagent.core.history import History
from termagent.core.watch_rules import IgnoreRules
from termagent.core.watcher import Change, WorkspaceWatcher, notice
from termagent.protocol import Event, FilesChangedExternally, ToolCallFinished, Warning
from termagent.testing.scripted_server import reply, text, tool_use
from termagent.tools.workspace import ReadLedger
from tests.session_support import eventually, make_session, tool_results

DEADLINE_S = 20.0


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "build").mkdir()
    (ws / ".git").mkdir()
    (ws / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (ws / "app.py").write_text("print('v1')\n")
    (ws / "src" / "mod.py").write_text("X = 1\n")
    (ws / "src" / "sentinel.py").write_text("S = 0\n")
    (ws / "src" / "pkg" / "deep").mkdir(parents=True)
    (ws / "src" / "pkg" / "deep" / "inner.py").write_text("I = 1\n")
    (ws / "build" / "out.py").write_text("generated\n")
    (ws / "debug.log").write_text("log\n")
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return ws


@pytest.fixture
def watched(workspace: Path):
    ledger = ReadLedger()
    events: list[Event] = []
    watcher = WorkspaceWatcher(workspace, ledger, events.append, settle_s=0.1)
    watcher.start()
    assert watcher.ready.wait(DEADLINE_S)
    yield watcher, ledger
    watcher.stop()


def wait_for_changes(watcher: WorkspaceWatcher, path: str) -> list[Change]:
    """Collect until `path` shows up (events arrive from watchdog's threads)."""
    seen: list[Change] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        seen += watcher.collect()
        if any(change.path == path for change in seen):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"{path} was never reported; saw {seen}")


def wait_for(watcher: WorkspaceWatcher, path: str) -> list[tuple[str, bool]]:
    """(path, deleted) pairs, collected until `path` shows up."""
    return [(change.path, change.deleted) for change in wait_for_changes(watcher, path)]


async def delivered(watcher: WorkspaceWatcher, *directories: Path) -> None:
    """Wait until every event for files already written in `directories` has been delivered: a
    marker written now in each comes after them in that directory's (ordered) inotify queue."""
    for number, directory in enumerate(directories):
        marker = directory / f".delivered-{number}-{time.monotonic_ns()}"
        arrived = watcher.delivery_of(marker)
        marker.write_text("")
        assert await asyncio.to_thread(arrived.wait, DEADLINE_S), f"watchdog never delivered {marker}"


async def past_the_settle_window(watcher: WorkspaceWatcher) -> None:
    assert await eventually(lambda: not watcher.agent_busy(), DEADLINE_S), "the settle window never ended"


def known(ledger: ReadLedger, *paths: Path) -> None:
    for path in paths:
        ledger.record(path)


def test_ignore_rules_follow_gitignore_and_skip_git(workspace):
    rules = IgnoreRules(workspace)
    assert rules.ignored(".git/HEAD") and rules.ignored("src/.git/x")
    assert rules.ignored("build", is_dir=True) and rules.ignored("build/out.py")
    assert rules.ignored("debug.log") and rules.ignored("src/deep/trace.log")
    assert not rules.ignored("keep.log") and not rules.ignored("app.py") and not rules.ignored("src/mod.py")
    (workspace / "src" / ".gitignore").write_text("mod.py\n")
    assert rules.ignored("src/mod.py") and not rules.ignored("app.py")


def test_outside_edit_of_a_read_file_is_reported_and_forgotten(workspace, watched):
    watcher, ledger = watched
    app, mod = workspace / "app.py", workspace / "src" / "mod.py"
    known(ledger, app, mod)
    app.write_text("print('v2')\n")
    mod.unlink()
    seen = wait_for(watcher, "src/mod.py")
    seen += wait_for(watcher, "app.py") if ("app.py", False) not in seen else []
    assert ("app.py", False) in seen and ("src/mod.py", True) in seen
    assert not ledger.is_known(app)


def test_unread_ignored_git_and_own_changes_are_not_reported(workspace, watched):
    watcher, ledger = watched
    app, out, log, sentinel = (workspace / "app.py", workspace / "build" / "out.py", workspace / "debug.log",
                               workspace / "src" / "sentinel.py")
    known(ledger, out, log, sentinel)
    (workspace / "src" / "mod.py").write_text("X = 2\n")  # never read by the agent
    out.write_text("regenerated\n")
    log.write_text("more log\n")
    (workspace / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    app.write_text("print('agent wrote this')\n")  # the agent's write: the ledger holds the new bytes
    ledger.record(app)
    sentinel.write_text("S = 1\n")  # last, in a watched directory: once it shows, the rest has been seen
    assert [rel for rel, _ in wait_for(watcher, "src/sentinel.py")] == ["src/sentinel.py"]
    assert ledger.is_known(app) and ledger.is_known(out)


async def test_a_save_during_a_long_command_still_reaches_the_model(workspace, watched):
    watcher, ledger = watched
    app, sentinel = workspace / "app.py", workspace / "src" / "sentinel.py"
    known(ledger, app, sentinel)
    async with watcher.agent_activity():  # e.g. a long `bash pytest` while the user saves app.py
        app.write_text("print('saved in the editor meanwhile')\n")
        await delivered(watcher, workspace)  # every event of that write was delivered while the activity was open
    await past_the_settle_window(watcher)
    sentinel.write_text("S = 2\n")
    seen = {c.path: c for c in wait_for_changes(watcher, "src/sentinel.py")}
    seen |= {c.path: c for c in watcher.collect()}
    assert seen["app.py"].during_command and not seen["src/sentinel.py"].during_command
    assert not ledger.is_known(app)  # edit_file now demands a fresh read


async def test_a_change_during_a_command_is_not_blamed_on_the_user(workspace):
    events: list[Event] = []
    ledger = ReadLedger()
    watcher = WorkspaceWatcher(workspace, ledger, events.append, settle_s=0.1)
    watcher.start()
    assert await asyncio.to_thread(watcher.ready.wait, DEADLINE_S)
    ledger.record(workspace / "app.py")
    async with watcher.agent_activity():
        (workspace / "app.py").write_text("print('by the command')\n")
        await delivered(watcher, workspace)
    loop = SimpleNamespace(history=History("s"))
    await watcher.before_request(loop)
    watcher.stop()
    (note,) = loop.history.messages
    text = note["content"][0]["text"]
    assert "changed while a command ran (by the command or by someone else)" in text and '"app.py"' in text
    assert "outside the agent" not in text
    assert not any(isinstance(e, FilesChangedExternally) for e in events)


def test_the_notice_separates_outside_changes_from_command_time_changes():
    text = notice([Change("a.py", False, False), Change("b.py", True, True)])["content"][0]["text"]
    outside, _, during = text.partition("changed while a command ran")
    assert '"a.py"' in outside and "outside the agent" in outside and '"b.py" (deleted)' in during


@pytest.mark.parametrize("outside_the_workspace", [True, False])
def test_moving_a_directory_away_reports_the_known_files_below_it(workspace, watched, outside_the_workspace):
    watcher, ledger = watched
    inner = workspace / "src" / "pkg" / "deep" / "inner.py"
    known(ledger, inner)
    target = workspace.parent / "elsewhere" if outside_the_workspace else workspace / "src" / "pkg_old"
    (workspace / "src" / "pkg").rename(target)
    assert ("src/pkg/deep/inner.py", True) in wait_for(watcher, "src/pkg/deep/inner.py")
    assert not ledger.is_known(inner)


def test_a_new_top_level_directory_is_watched(workspace, watched):
    watcher, ledger = watched
    (workspace / "pkg").mkdir()
    target = workspace / "pkg" / "new.py"
    deadline = time.monotonic() + DEADLINE_S
    version = 0
    while time.monotonic() < deadline:  # the watch on pkg/ is added from watchdog's thread
        version += 1
        target.write_text(f"A = {version}\n")
        ledger.record(target)
        target.write_text(f"A = {version} changed outside\n")
        time.sleep(0.05)
        if any(c.path == "pkg/new.py" and not c.deleted for c in watcher.collect()):
            return
    raise AssertionError("changes under a new top-level directory were never reported")


async def test_a_watcher_that_cannot_start_warns_once(tmp_path):
    events: list[Event] = []
    watcher = WorkspaceWatcher(tmp_path / "gone", ReadLedger(), events.append)
    watcher.start()
    assert watcher.ready.wait(DEADLINE_S)
    loop = SimpleNamespace(history=History("s"))
    await watcher.before_request(loop)
    await watcher.before_request(loop)
    (warning,) = [e for e in events if isinstance(e, Warning)]
    assert "not watching the workspace" in warning.message and loop.history.messages == []


# ---------------------------------------------------------------- in a real session


async def started(session):
    session.start()
    assert await asyncio.to_thread(session.watcher.ready.wait, DEADLINE_S)


async def edit_when_streaming(server, workspace: Path, request_number: int) -> None:
    """The user saves app.py while the model is still streaming its reply."""
    while len(server.requests) < request_number:
        await asyncio.sleep(0.01)
    (workspace / "app.py").write_text("print('user edit')\n")


async def test_outside_edit_reaches_the_model_and_blocks_a_blind_edit(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(tool_use("read_file", {"path": "app.py"})),
        reply(text("Editing now " * 5), tool_use("edit_file", {"path": "app.py", "old_string": "v1",
                                                                "new_string": "v3"})),
        reply("stopped: the file changed under me"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"permissions": {"mode": "accept-edits"}})
    await started(session)
    scripted_server.chunk_delay_s = 0.05
    editor = asyncio.create_task(edit_when_streaming(scripted_server, workspace, 2))
    await session.run_turn("change v1 to v3 in app.py")
    await editor
    await session.close()

    assert (workspace / "app.py").read_text() == "print('user edit')\n"
    (edit,) = [e for e in events if isinstance(e, ToolCallFinished) and e.name == "edit_file"]
    assert not edit.ok and edit.error_type == "stale_read"
    third = scripted_server.requests[2].body
    notes = [b["text"] for b in third["messages"][-1]["content"] if b.get("type") == "text"]
    assert any("Files changed outside the agent" in n and '"app.py"' in n for n in notes)
    assert [e.paths for e in events if isinstance(e, FilesChangedExternally)] == [("app.py",)]


async def test_the_agents_own_writes_are_not_reported(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(tool_use("read_file", {"path": "app.py"}), tool_use("read_file", {"path": "src/mod.py"})),
        reply(tool_use("edit_file", {"path": "app.py", "old_string": "v1", "new_string": "v2"})),
        reply(tool_use("write_file", {"path": "app.py", "content": "print('v3')\n"})),
        reply(tool_use("bash", {"command": "echo 'X = 9' >> src/mod.py"})),
        reply("done"),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"permissions": {"mode": "accept-edits", "allow": ["bash"]}})
    await started(session)
    await session.run_turn("edit things")
    # any event still in flight is delivered before the next request drains
    await delivered(session.watcher, workspace, workspace / "src")
    scripted_server.add(reply("ok"))
    await session.run_turn("anything else?")
    await session.close()

    assert (workspace / "src" / "mod.py").read_text() == "X = 1\nX = 9\n"
    assert all(e.ok for e in events if isinstance(e, ToolCallFinished))
    assert not any(isinstance(e, FilesChangedExternally) for e in events)
    sent = json.dumps([r.body["messages"] for r in scripted_server.requests])
    assert "Files changed outside the agent" not in sent
    # the command's own change is named honestly (the ledger cannot vouch for it), never app.py
    assert "changed while a command ran" in sent and '\\"src/mod.py\\"' in sent and '\\"app.py\\"' not in sent
    assert tool_results(scripted_server.requests[-2].body)  # the bash call's result came back normally
