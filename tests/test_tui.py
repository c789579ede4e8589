"""The Textual app driven by Pilot against a real session and the scripted model server.

Each test types and presses keys as a person would and reads the rendered screen (the
same cells a terminal would show), so what is asserted is what someone would see.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from termagent.protocol import TurnFinished
from termagent.testing.scripted_server import reply, sse_error, tool_use
from termagent.tui.approval import ARM_DELAY_S
from termagent.tui.app import TermagentApp
from termagent.tui.toolcall import ToolCallBlock
from tests.session_support import make_session, tool_results

SIZE = (100, 32)
APP_PY = "def main():\n    print('hello')\n\n\nif __name__ == '__main__':\n    main()\n"


# ---------------------------------------------------------------- helpers (used by the other TUI tests too)


def screen_text(app: TermagentApp) -> str:
    """The characters on screen right now, row by row (what a terminal would show)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      color_system="truecolor", legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    """Let the app run until `predicate()` holds; fail naming `what` after a deadline in
    wall time generous enough for a loaded machine (the condition, not the clock, decides)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- screen ---\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)
    await pilot.app.settle()
    await pilot.pause(0.05)


async def shows(pilot, needle: str, timeout: float = 60.0) -> None:
    await until(pilot, lambda: needle in screen_text(pilot.app), f"{needle!r} on screen", timeout)


async def idle(pilot, app: TermagentApp, turns: int = 1) -> None:
    """Until `turns` turns have finished and the session is idle again."""
    await until(pilot, lambda: app.turns_finished >= turns and not app.session.busy, f"{turns} finished turn(s)")


async def send(pilot, text_: str) -> None:
    """Type a prompt (short ones key by key, as a person would) and press Enter."""
    app = pilot.app
    if len(text_) <= 40 and text_.isascii():
        for char in text_:
            await pilot.press("space" if char == " " else char)
    else:
        app.prompt.insert(text_)
    await pilot.press("enter")


def tui(session, **kwargs) -> TermagentApp:
    return TermagentApp(session, timings=False, **kwargs)


def make_workspace(tmp_path: Path) -> Path:
    """A workspace always named `project` (its name is on screen) holding app.py."""
    ws = tmp_path / "project"
    ws.mkdir()
    (ws / "app.py").write_text(APP_PY)
    return ws


def session_builder(workspace: Path, server, monkeypatch):
    """`build(**kwargs)` -> (session, events): an interactive session on the scripted server."""
    def build(**kwargs):
        kwargs.setdefault("interactive", True)
        return make_session(workspace, server, monkeypatch, **kwargs)
    return build


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


@pytest.fixture
def session_for(workspace, scripted_server, monkeypatch):
    return session_builder(workspace, scripted_server, monkeypatch)


# ---------------------------------------------------------------- conversation


async def test_streamed_answer_appears_with_markdown_and_usage(session_for, scripted_server):
    scripted_server.add(reply("Here is **the plan**:\n\n```python\nprint('hi')\n```\n\nDone."))
    session, events = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "make a plan")
        await idle(pilot, app)
        screen = screen_text(app)
        assert "make a plan" in screen
        assert "Here is the plan:" in screen and "print('hi')" in screen and "Done." in screen
        assert "**" not in screen and "```" not in screen
        assert "$0.0" in screen and "↑" in screen
    assert scripted_server.requests[0].body["messages"][-1]["content"][0]["text"] == "make a plan"


async def test_tool_call_renders_as_one_line_and_expands_to_highlighted_file(session_for, scripted_server):
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})), reply("It prints hello."))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does app.py do")
        await idle(pilot, app)
        assert "read_file  app.py" in screen_text(app)
        assert "print('hello')" not in screen_text(app)
        block = app.query_one(ToolCallBlock)
        await pilot.click(block)
        await shows(pilot, "print('hello')")
        assert "1 def main():" in screen_text(app)
        await pilot.click(block)
        await until(pilot, lambda: "print('hello')" not in screen_text(app), "collapse")


async def test_long_command_output_shows_head_and_tail_then_everything(session_for, scripted_server):
    scripted_server.add(reply(tool_use("bash", {"command": "seq 1 3000"})), reply("Counted."))
    session, _ = session_for(overrides={"permissions": {"allow": ["bash"]}})
    app = tui(session)
    async with app.run_test(size=(100, 60)) as pilot:
        await send(pilot, "count")
        await idle(pilot, app)
        block = app.query_one(ToolCallBlock)
        block.focus()
        await pilot.press("enter")
        await shows(pilot, "lines hidden")
        screen = screen_text(app)
        assert "$ seq 1 3000" in screen and "\n" in screen
        lines = [line.strip(" │▕▎") for line in screen.splitlines()]
        assert "2999" in lines and "3000" in lines and "1500" not in lines
        await pilot.press("enter")
        await until(pilot, lambda: "lines hidden" not in screen_text(app), "full output")
        assert block.expanded == 2


async def test_edit_shows_a_coloured_diff(session_for, scripted_server):
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})),
                        reply(tool_use("edit_file", {"path": "app.py", "old_string": "'hello'",
                                                     "new_string": "'hello, world'"})),
                        reply("Changed."))
    session, _ = session_for(overrides={"permissions": {"mode": "accept-edits"}})
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "greet the world")
        await idle(pilot, app)
        await pilot.press("ctrl+o")
        await shows(pilot, "+    print('hello, world')")
        assert "-    print('hello')" in screen_text(app)
        assert "verbose" in screen_text(app)


# ---------------------------------------------------------------- approvals


async def test_write_in_ask_mode_asks_and_allow_once_writes(session_for, scripted_server, workspace):
    scripted_server.add(reply(tool_use("write_file", {"path": "notes.md", "content": "# Notes\nhello\n"})),
                        reply("Written."))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "write notes")
        await shows(pilot, "Allow write_file?")
        screen = screen_text(app)
        assert "notes.md" in screen and "# Notes" in screen and "[y] allow once" in screen
        assert not (workspace / "notes.md").exists()
        dialog = app.screen
        dialog.opened_at = time.monotonic() + 3600  # still "just opened" however slow the machine is
        await pilot.press("y")  # too soon after the dialog opened: ignored, so a stray key cannot approve
        await pilot.pause(0.2)
        assert not (workspace / "notes.md").exists() and "Allow write_file?" in screen_text(app)
        dialog.opened_at = time.monotonic() - ARM_DELAY_S  # armed
        await pilot.press("y")
        await idle(pilot, app)
        assert (workspace / "notes.md").read_text() == "# Notes\nhello\n"
        assert "Written." in screen_text(app)


async def test_deny_with_a_reason_reaches_the_model(session_for, scripted_server, workspace):
    scripted_server.add(reply(tool_use("write_file", {"path": "notes.md", "content": "x"})), reply("Understood."))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "write notes")
        await shows(pilot, "Allow write_file?")
        await pilot.press("n")
        for char in "use docs/":
            await pilot.press("space" if char == " " else char)
        await pilot.press("enter")
        await idle(pilot, app)
        assert "denied" in screen_text(app)
    assert not (workspace / "notes.md").exists()
    result = tool_results(scripted_server.requests[1].body)[0]
    assert result["is_error"] and "use docs/" in str(result["content"])


async def test_allow_for_session_stops_asking_for_the_same_command(session_for, scripted_server):
    command = {"command": "echo same-call"}
    scripted_server.add(reply(tool_use("bash", command)), reply(tool_use("bash", command)), reply("Twice."))
    session, events = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "echo twice")
        await shows(pilot, "Allow bash?")
        assert "echo same-call" in screen_text(app)
        app.screen.opened_at = time.monotonic() - ARM_DELAY_S  # armed, without waiting on the clock
        await pilot.press("a")
        await idle(pilot, app)
        assert "Allow bash?" not in screen_text(app)
    asked = [e for e in events if type(e).__name__ == "ApprovalRequested"]
    assert len(asked) == 1
    outputs = [str(r["content"]) for req in scripted_server.requests[1:] for r in tool_results(req.body)]
    assert all("same-call" in o for o in outputs) and len(outputs) == 2


async def test_approval_shows_hidden_characters_instead_of_obeying_them(session_for, scripted_server):
    sneaky = "echo ok \u202e# gnp.tohs\x1b[2J"
    scripted_server.add(reply(tool_use("bash", {"command": sneaky})), reply("ok"))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await shows(pilot, "Allow bash?")
        screen = screen_text(app)
        assert "<U+202E>" in screen and "\\x1b[2J" in screen
        assert "bidi" in screen
        await pilot.press("escape")
        await idle(pilot, app)


# ---------------------------------------------------------------- interrupt, retry, safety


async def test_escape_interrupts_mid_stream_and_the_next_prompt_works(session_for, scripted_server):
    scripted_server.chunk_delay_s = 0.05
    scripted_server.pieces = 200
    scripted_server.add(reply("word " * 400), reply("Second answer."))
    session, events = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk a lot")
        await shows(pilot, "word word")
        await pilot.press("escape")
        await shows(pilot, "interrupted")
        assert not session.busy
        scripted_server.chunk_delay_s = 0
        await send(pilot, "again")
        await idle(pilot, app, turns=2)
        assert "Second answer." in screen_text(app)
    assert [e.stop_reason for e in events if isinstance(e, TurnFinished)] == ["interrupted", "end_turn"]


async def test_a_retried_stream_replaces_the_void_partial_text(session_for, scripted_server):
    scripted_server.add(sse_error(reply("PARTIAL-" * 30 + "lost"), after_events=4), reply("Final answer."))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await idle(pilot, app)
        screen = screen_text(app)
        assert "retrying in" in screen and "Final answer." in screen
        assert "PARTIAL-" not in screen


async def test_model_text_and_tool_output_cannot_style_or_drive_the_terminal(session_for, scripted_server):
    nasty = "[bold red]not markup[/] \x1b]52;c;ZXZpbA==\x07\x1b[2J plain"
    scripted_server.add(reply(tool_use("bash", {"command": "printf '\\033[2J[link=x]out[/link]\\n'"})),
                        reply(nasty))
    session, _ = session_for(overrides={"permissions": {"allow": ["bash"]}})
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "be nasty")
        await idle(pilot, app)
        await pilot.press("ctrl+o")
        await shows(pilot, "[link=x]out[/link]")
        screen = screen_text(app)
        assert "[bold red]not markup[/]" in screen and "plain" in screen
        assert "\x1b" not in "".join(b.streamed for b in app.query("AssistantBlock"))
        assert "ZXZpbA" not in screen


# ---------------------------------------------------------------- keys and input


async def test_shift_tab_cycles_the_permission_mode(session_for):
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, "ask ⇧⇥")
        await pilot.press("shift+tab")
        await shows(pilot, "accept-edits ⇧⇥")
        assert session.runner.policy.mode == "accept-edits"


async def test_without_the_sandbox_shift_tab_skips_auto_and_comes_round_to_plan(session_for):
    """auto is not offered unsandboxed; cycling onto it must not bounce back to ask for ever."""
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, "ask ⇧⇥")
        for expected in ("accept-edits", "plan", "ask"):
            await pilot.press("shift+tab")
            await shows(pilot, f"{expected} ⇧⇥")


async def test_ctrl_c_twice_quits(session_for):
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        assert app.is_running
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.detached, "the session to close")
    assert app.exit_code == 130 and app.detached


async def test_history_recalls_prompts_across_sessions(session_for, scripted_server):
    scripted_server.add(reply("one"))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first prompt")
        await idle(pilot, app)
    session2, _ = session_for()
    app2 = tui(session2)
    async with app2.run_test(size=SIZE) as pilot:
        await pilot.press("x", "up")
        assert app2.prompt.text == "first prompt"
        await pilot.press("down")
        assert app2.prompt.text == "x"


async def test_multiline_prompt_with_ctrl_j(session_for, scripted_server):
    scripted_server.add(reply("ok"))
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "ctrl+j", "b", "backslash", "enter", "c", "enter")
        await idle(pilot, app)
    assert scripted_server.requests[0].body["messages"][-1]["content"][0]["text"] == "a\nb\nc"


async def test_slash_and_path_completion(session_for, workspace):
    (workspace / "src").mkdir()
    (workspace / "src" / "parser.py").write_text("x = 1\n")
    (workspace / "notes[bold]x.md").write_text("n\n")
    session, _ = session_for()
    app = tui(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("/", "h", "e")
        await shows(pilot, "show commands and keys")
        await pilot.press("tab")
        assert app.prompt.text == "/help"
        app.prompt.clear()
        await pilot.press("l", "o", "o", "k", "space", "@", "p", "a", "r")
        await shows(pilot, "@src/parser.py")
        await pilot.press("enter")
        assert app.prompt.text == "look @src/parser.py "
        await pilot.press("@", "n", "o", "t")
        await shows(pilot, "@notes[bold]x.md")


def test_write_approval_shows_the_path_above_the_content():
    from termagent.protocol import ApprovalRequested
    from termagent.tui.approval import detail_view

    shown, _ = detail_view(ApprovalRequested("1", "c", "write_file", "a.py", "write a.py:\nprint(1)\n"), True)
    assert shown.plain.splitlines() == ["write a.py:", "print(1)"]
