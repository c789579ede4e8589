"""The app survives its own races, and when a bug does escape it ends honestly."""

from __future__ import annotations

import pytest

from termagent.protocol import ApprovalRequested
from termagent.tui import run_app
from termagent.tui.app import TermagentApp
from termagent.tui.approval import Answer
from termagent.frontend.records import ToolRecord
from termagent.tui.toolcall import ToolCallBlock
from termagent.testing.scripted_server import reply, tool_use
from tests.test_tui import SIZE, screen_text, send, session_builder, shows, tui, until, workspace  # noqa: F401 - fixture


@pytest.fixture
def session_for(workspace, scripted_server, monkeypatch):  # noqa: F811
    return session_builder(workspace, scripted_server, monkeypatch)


def _request(request_id: str = "r1") -> ApprovalRequested:
    return ApprovalRequested(request_id=request_id, call_id="c1", tool="bash", summary="ls", detail="ls",
                             reason="asks", destructive=False)


async def test_spinner_tick_before_a_block_is_composed_draws_nothing(session_for):
    session, _ = session_for()
    async with tui(session).run_test(size=SIZE):
        block = ToolCallBlock(ToolRecord("c1", "bash", {"command": "ls"}))
        block.tick(3)  # not mounted yet: the app's timer can get here first
        assert block._frame == 3


async def test_a_dialog_settled_while_its_answer_is_pending_is_not_popped_twice(session_for):
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        app.ask_approval(_request())
        await shows(pilot, "Allow bash?")
        dialog = app.screen
        dialog.dismiss(Answer("allow_once"))  # the person answered; its callback has not run yet
        app.approval_settled("r1")  # and the turn ended in the same moment
        await until(pilot, lambda: len(app.screen_stack) == 1, "the dialog closed")
        app.ask_approval(_request("r2"))
        await shows(pilot, "Allow bash?")
        app.dismiss_approvals()
        await until(pilot, lambda: len(app.screen_stack) == 1, "the second dialog closed")


class _BrokenApp(TermagentApp):
    """An app with a bug in a handler, as an escaped exception looks to run_app."""

    def on_ready(self) -> None:
        raise RuntimeError("a bug in a handler")


def test_an_escaped_error_exits_1_and_names_the_kept_session(session_for, capsys):
    session, _ = session_for()
    code = run_app(_BrokenApp(session, timings=False), headless=True)
    assert code == 1
    err = capsys.readouterr().err
    assert f"termagent --resume {session.session_id}" in err and "RuntimeError" in err
    assert session.store.session(session.session_id) is not None


async def test_edit_approval_shows_the_real_hunk_with_line_numbers_and_indentation(
        session_for, scripted_server, workspace):  # noqa: F811
    lines = [f"line_{n} = {n}" for n in range(1, 50)] + ["def total():", "        return 49"]
    (workspace / "calc.py").write_text("\n".join(lines + [f"x_{n} = 0" for n in range(10)]) + "\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "calc.py"})),  # unread, the edit would fail unasked
                        reply(tool_use("edit_file", {"path": "calc.py", "old_string": "return 49",
                                                     "new_string": "return 50"})),
                        reply("Denied, fine."))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=(110, 40)) as pilot:
        await send(pilot, "bump it")
        await shows(pilot, "Allow edit_file?")
        screen = screen_text(app)
        assert "@@ -48,7 +48,7 @@" in screen
        assert "-        return 49" in screen and "+        return 50" in screen
        assert " def total():" in screen
        await pilot.press("escape")
        await until(pilot, lambda: not session.busy, "the turn to end")


async def test_escape_puts_a_queued_prompt_back_into_the_input(session_for, scripted_server):
    scripted_server.chunk_delay_s = 0.5  # the answer streams for minutes: only Esc ends this turn
    scripted_server.pieces = 400
    scripted_server.add(reply("word " * 400))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk a lot")
        await shows(pilot, "word word")
        await send(pilot, "and then this")
        await pilot.press("escape")
        await shows(pilot, "back in the input")
        assert app.prompt.text == "and then this"
        await until(pilot, lambda: not session.busy, "the turn to end")
        assert len(scripted_server.requests) == 1
