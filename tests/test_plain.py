"""The plain line mode: prompts typed into prompt-toolkit, printed output read back."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from termagent.plain.printer import FenceStream, Palette, Printer
from termagent.plain.repl import PlainRepl
from termagent.protocol import AssistantTextDelta, ToolCallFinished, ToolCallStarted
from termagent.testing.scripted_server import reply, tool_use
from termagent.frontend.input_history import InputHistory
from tests.session_support import eventually, make_session


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    ws.mkdir()
    (ws / "app.py").write_text("print('hello')\n")
    return ws


class Typist:
    """Feeds keystrokes to the REPL only once it is reading them, like a person.

    The events waited on are prompt-toolkit's own: a read is open when the prompt's (or the
    approval asker's) app runs with a future not yet answered, and a line was taken when that
    future is done. Each line goes to a read no earlier line ended, so no key can reach a
    question that is still closing (its app runs on for a moment after the Enter)."""

    def __init__(self, pipe, repl: PlainRepl, running: asyncio.Task[int]) -> None:
        self.pipe = pipe
        self.repl = repl
        self.running = running  # the REPL itself: if it ends early, no read will ever open
        self.answered: list[asyncio.Future] = []  # reads our Enter keys ended

    def open_read(self) -> asyncio.Future | None:
        for app in (self.repl.asker.app, self.repl.prompt.app):
            reading = app.future
            if app.is_running and reading is not None and not reading.done() \
                    and not any(reading is done for done in self.answered):
                return reading
        return None

    async def type(self, text: str, timeout: float = 90.0) -> None:
        """The deadline is generous for a loaded machine: a slow turn (an approval after a
        model request) once outlived a 15 s budget."""
        await eventually(lambda: self.open_read() is not None or self.running.done(), timeout)
        reading = self.open_read()
        assert reading is not None, (f"the REPL never asked for {text!r} (ended: {self.running.done()}); "
                                     f"output:\n{self.repl.out.getvalue()}")
        self.pipe.send_text(text)
        if not text.endswith("\r"):
            return
        self.answered.append(reading)
        taken = await eventually(reading.done, timeout)
        assert taken, f"{text!r} was never taken; output so far:\n{self.repl.out.getvalue()}"


async def drive(session, keystrokes: list[str], reopen=None) -> tuple[int, str]:
    """Types each line once the REPL reads it (a prompt, an approval, a reason) and returns
    the exit code and everything printed, once the last line has ended the REPL."""
    out = io.StringIO()
    with create_pipe_input() as pipe:
        repl = PlainRepl(session, reopen, out=out, color=False, pt_input=pipe, pt_output=DummyOutput(),
                         history=InputHistory())
        task = asyncio.create_task(repl.run())
        typist = Typist(pipe, repl, task)
        for keys in keystrokes:
            await typist.type(keys)
        code = await asyncio.wait_for(task, timeout=120)
    return code, out.getvalue()


async def test_a_prompt_streams_the_answer_and_a_status_line(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})),
                        reply("It prints hello.\n\n```python\nprint('hello')\n```\n"))
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    code, out = await drive(session, ["what does app.py do\r", "/quit\r"])
    assert code == 0
    assert "● read_file  app.py" in out and "✓ read_file" in out
    assert "It prints hello." in out and "print('hello')" in out
    assert "$0.0" in out and "tokens" in out


async def test_approval_yes_writes_and_no_sends_the_reason(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("write_file", {"path": "a.txt", "content": "A\n"})),
                        reply(tool_use("write_file", {"path": "b.txt", "content": "B\n"})),
                        reply("One of two."))
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    code, out = await drive(session, ["write both\r", "y\r", "n\r", "not b\r", "/quit\r"])
    assert "Allow write_file?" in out and "write a.txt:" in out
    assert (workspace / "a.txt").read_text() == "A\n"
    assert not (workspace / "b.txt").exists()
    last = scripted_server.requests[-1].body["messages"][-1]["content"]
    assert any("not b" in str(block.get("content")) for block in last)


async def test_slash_commands_and_completion_in_plain_mode(workspace, scripted_server, monkeypatch):
    session, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    code, out = await drive(session, ["/agents\r", "/mode plan\r", "/help\r", "/quit\r"])
    assert session.runner.policy.mode == "plan"
    assert "subagents (the model delegates" in out and "explorer" in out
    assert "permission mode: plan" in out and "/resume [id]" in out
    assert "ctrl+c" in out and "shift+tab" not in out and "ctrl+o" not in out  # keys the line mode has


async def test_resume_in_plain_mode_prints_the_history(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply("The answer is 42."))
    first, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    await first.run_turn("what is the answer")
    await first.close()
    resumed, _ = make_session(workspace, scripted_server, monkeypatch, interactive=True, resume="")
    code, out = await drive(resumed, ["/quit\r"])
    assert "❯ what is the answer" in out and "The answer is 42." in out and "resumed" in out


def test_fences_are_highlighted_whole_and_prose_streams_at_once():
    written: list[str] = []
    stream = FenceStream(written.append, Palette(color=True))
    stream.feed("Some prose ")
    assert written == ["Some prose "]
    stream.feed("here.\n```py")
    stream.feed("thon\nx = 1\n")
    stream.feed("```\nafter")
    stream.end()
    text = "".join(written)
    assert "Some prose here.\n" in text
    assert "\x1b[" in text.split("```python")[1].split("```")[0]
    assert text.rstrip().endswith("after")


def test_printer_strips_terminal_controls_from_model_and_tool_text():
    out = io.StringIO()
    printer = Printer(out, color=False)
    printer.handle(AssistantTextDelta("hi \x1b]52;c;ZXZpbA==\x07there\x1b[2J\n"))
    command = "printf '\\033[31m'"
    printer.handle(ToolCallStarted("c1", "bash", {"command": command}, "exec", gist=command, view="command",
                                   command=command))
    printer.handle(ToolCallFinished("c1", "bash", True, "\x1b[31mred\x1b[0m text\n", 0.1))
    text = out.getvalue()
    assert "\x1b" not in text and "ZXZpbA" not in text
    assert "hi there" in text and "red text" in text


async def test_tab_puts_in_the_only_completion_and_opens_a_menu_for_several(workspace):
    """The Tab binding itself, on a real prompt_toolkit buffer: typing timing plays no part."""
    from types import SimpleNamespace

    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.document import Document
    from prompt_toolkit.keys import Keys

    from termagent.plain.repl import _keys
    from termagent.frontend.completion import WorkspaceFiles

    tab = next(b for b in _keys(WorkspaceFiles(workspace)).bindings if b.keys == (Keys.ControlI,))
    single = Buffer(document=Document("/ag"))
    tab.handler(SimpleNamespace(current_buffer=single))
    assert single.text == "/agents"
    several = Buffer(document=Document("/m"))
    tab.handler(SimpleNamespace(current_buffer=several))
    assert several.text == "/m"  # /model and /mode: a menu, not a guess
