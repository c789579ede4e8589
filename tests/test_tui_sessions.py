"""Slash commands, resumed sessions, subagents and long sessions in the TUI."""

from __future__ import annotations

import subprocess
import threading

import pytest

from termagent.testing.scripted_server import reply, text, tool_use
from termagent.tui.conversation import MAX_MOUNTED, PAGE
from termagent.frontend.records import AssistantRecord, ToolRecord, UserRecord
from termagent.tui.toolcall import ToolCallBlock
from tests.session_support import make_session
from tests.test_tui import SIZE, idle, make_workspace, screen_text, send, session_builder, shows, tui, until


@pytest.fixture
def workspace(tmp_path):
    return make_workspace(tmp_path)


@pytest.fixture
def session_for(workspace, scripted_server, monkeypatch):
    return session_builder(workspace, scripted_server, monkeypatch)


def reopener(workspace, server, monkeypatch):
    return lambda resume_id: make_session(workspace, server, monkeypatch, interactive=True, resume=resume_id)[0]


async def test_help_mode_cost_model_and_unknown_commands(session_for, scripted_server):
    scripted_server.add(reply("hi"))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=(100, 50)) as pilot:
        await send(pilot, "/help")
        await shows(pilot, "/resume [id]")
        assert "ctrl+c twice" in screen_text(app)
        await send(pilot, "/mode plan")
        await shows(pilot, "plan ⇧⇥")
        assert session.runner.policy.mode == "plan"
        await send(pilot, "/mode sideways")
        await shows(pilot, "unknown mode 'sideways'")
        await send(pilot, "hello")
        await idle(pilot, app)
        await send(pilot, "/cost")
        await shows(pilot, "model requests this run: 1")
        await send(pilot, "/model claude-test-9")
        await shows(pilot, "main model is now claude-test-9")
        await send(pilot, "/frobnicate")
        await shows(pilot, "unknown command /frobnicate")
    assert len(scripted_server.requests) == 1


async def test_model_change_applies_to_the_next_request(session_for, scripted_server):
    scripted_server.add(reply("from the new model"))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        app.prompt.insert("/model claude-other-1")
        await pilot.press("enter")
        await shows(pilot, "claude-other-1 │")
        await send(pilot, "hi")
        await idle(pilot, app)
    assert scripted_server.requests[0].body["model"] == "claude-other-1"


async def test_agents_compact_diff_and_quit(session_for, workspace):
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    subprocess.run(["git", "add", "."], cwd=workspace, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"], cwd=workspace,
                   check=True)
    (workspace / "app.py").write_text("print('changed')\n")
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=(100, 50)) as pilot:
        await send(pilot, "/agents")
        await shows(pilot, "explorer")
        await send(pilot, "/compact")
        await shows(pilot, "nothing to compact yet")
        await send(pilot, "/diff")
        await shows(pilot, "+print('changed')")
        await send(pilot, "/quit")
        await until(pilot, lambda: app.detached, "the session to close")
    assert app.detached and app.exit_code == 0


async def test_clear_starts_a_fresh_session_and_resume_brings_the_old_one_back(
        workspace, scripted_server, monkeypatch):
    scripted_server.add(reply("remember the number 4711"), reply("fresh answer"))
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    first_id = session.session_id
    app = tui(session, reopen=reopener(workspace, scripted_server, monkeypatch))
    async with app.run_test(size=(100, 40)) as pilot:
        await send(pilot, "pick a number")
        await idle(pilot, app)
        await send(pilot, "/clear")
        await until(pilot, lambda: app.session.session_id != first_id, "a fresh session")
        await shows(pilot, "new session")
        assert "4711" not in screen_text(app)
        await send(pilot, "anything new")
        await until(pilot, lambda: "fresh answer" in screen_text(app), "the fresh answer")
        await send(pilot, "/sessions")
        await shows(pilot, first_id)
        await send(pilot, f"/resume {first_id}")
        await until(pilot, lambda: app.session.session_id == first_id, "the resumed session")
        await shows(pilot, "remember the number 4711")
        assert "pick a number" in screen_text(app)
    request = scripted_server.requests[1].body
    assert "4711" not in str(request["messages"])


async def test_resume_shows_the_stored_history(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})), reply("It greets."),
                        reply("Still here."))
    first, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    await first.run_turn("explain app.py")
    await first.close()
    resumed, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True, resume="")
    app = tui(resumed)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, "explain app.py")
        screen = screen_text(app)
        assert "read_file  app.py" in screen and "It greets." in screen and "resumed" in screen
        await send(pilot, "are you there")
        await until(pilot, lambda: "Still here." in screen_text(app), "the answer after resuming")
    assert "explain app.py" in str(scripted_server.requests[-1].body["messages"])


class Router:
    """Answers main-agent and explorer requests from separate queues (by system prompt)."""

    def __init__(self) -> None:
        self.queues: dict[str, list] = {"main": [], "explorer": []}
        self._lock = threading.Lock()

    def __call__(self, request):
        system = " ".join(block["text"] for block in request.body.get("system", []))
        agent = "explorer" if "You are explorer" in system else "main"
        with self._lock:
            return self.queues[agent].pop(0)


async def test_subagent_calls_nest_under_the_delegate_call_with_its_summary(session_for, scripted_server):
    router = Router()
    scripted_server.responder = router
    router.queues["main"] += [reply(tool_use("delegate", {"agent": "explorer", "task": "Find the entry point."})),
                              reply("The entry point is main().")]
    router.queues["explorer"] += [reply(tool_use("read_file", {"path": "app.py"})),
                                  reply(text("status: ok\nfindings:\n- app.py:1 defines main()"))]
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await send(pilot, "where does it start")
        await idle(pilot, app)
        screen = screen_text(app)
        assert "delegate  explorer: Find the entry point." in screen
        assert "↳ explorer  1 tool call · ok" in screen
        assert "app.py:1 defines main()" in screen
        assert "The entry point is main()." in screen
        assert "read_file app.py" not in screen
        block = next(b for b in app.query(ToolCallBlock) if b.state.name == "delegate")
        await pilot.click(block)
        await shows(pilot, "read_file app.py")
        await send(pilot, "/transcript")
        await shows(pilot, "agent explorer")
        assert 'assistant → read_file({"path": "app.py"})' in screen_text(app)


async def test_undo_restores_the_files_the_agent_changed(workspace, session_for, scripted_server):
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    scripted_server.add(reply(tool_use("write_file", {"path": "notes.txt", "content": "agent wrote this\n"})),
                        reply("written"))
    session, _ = session_for(overrides={"permissions": {"mode": "accept-edits"}})
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "write notes")
        await idle(pilot, app)
        assert (workspace / "notes.txt").exists()
        await send(pilot, "/undo")
        await until(pilot, lambda: not (workspace / "notes.txt").exists(), "notes.txt removed by /undo")


async def test_a_resumed_session_of_two_thousand_messages_mounts_one_page(workspace, scripted_server, monkeypatch):
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    for index in range(1000):
        session.loop.history.append({"role": "user", "content": [{"type": "text", "text": f"question {index}"}]})
        session.loop.history.append({"role": "assistant", "content": [{"type": "text", "text": f"answer {index}"}]})
    await session.close()
    resumed, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True, resume="")
    app = tui(resumed)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, "answer 999")
        assert len(app.view.blocks) <= PAGE + 5  # the page plus start-up notices
        hidden = len(app.view.hidden)
        assert hidden >= 2000 - PAGE
        await pilot.press("ctrl+up")
        await until(pilot, lambda: len(app.view.hidden) == hidden - PAGE, "an earlier page")
        await shows(pilot, f"▲ {hidden - PAGE:,} earlier items")
        assert "question 950" in screen_text(app)


async def test_a_long_live_session_keeps_the_widget_count_bounded(session_for):
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        for index in range(MAX_MOUNTED + 60):
            app.view.user(f"prompt {index}")
            app.view.assistant_message(f"reply {index}")
        await until(pilot, lambda: len(app.view.blocks) <= MAX_MOUNTED, "old blocks to be unmounted")
        kinds = {type(r) for r in app.view.hidden}
        assert UserRecord in kinds and AssistantRecord in kinds
        assert ToolRecord not in kinds
        await shows(pilot, f"reply {MAX_MOUNTED + 59}")
