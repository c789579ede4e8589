"""Snapshot tests of the main screens (pytest-textual-snapshot).

Deterministic by construction: fixed terminal sizes, a workspace always named
`project`, durations hidden (timings=False), no session ids or clocks on screen, and
each screenshot taken only once the session is idle (no spinner frame).
Update them with `pytest tests/test_tui_snapshots.py --snapshot-update` and look at
the report before committing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from termagent.testing.scripted_server import reply, text, tool_use
from termagent.tui.app import TermagentApp
from tests.session_support import make_session
from tests.test_tui import APP_PY, idle, send, shows
from tests.test_tui_sessions import Router

ANSWER = ("The greeting now includes the world:\n\n```python\ndef main():\n    print('hello, world')\n```\n\n"
          "- `app.py` edited\n- nothing else changed")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A committed git repository named `project`: nothing on screen depends on where it lives."""
    ws = tmp_path / "project"
    ws.mkdir()
    (ws / "app.py").write_text(APP_PY)
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=ws, check=True)
    return ws


class SteadyApp(TermagentApp):
    """The app with a steady (non-blinking) prompt cursor, so screenshots do not depend on timing.
    (Textual runs the base class's on_mount as well: this one must not call it again.)"""

    def on_mount(self) -> None:
        self.prompt.cursor_blink = False


def build(workspace, server, monkeypatch, theme: str = "textual-dark", **kwargs) -> TermagentApp:
    session, _ = make_session(workspace, server, monkeypatch, interactive=True, **kwargs)
    return SteadyApp(session, timings=False, theme=theme)


def edit_script(server) -> None:
    server.add(reply("Let me look.", tool_use("read_file", {"path": "app.py"})),
               reply(tool_use("edit_file", {"path": "app.py", "old_string": "'hello'",
                                            "new_string": "'hello, world'"})),
               reply(ANSWER))


def test_conversation_80x24(snap_compare, workspace, scripted_server, monkeypatch):
    edit_script(scripted_server)
    app = build(workspace, scripted_server, monkeypatch, overrides={"permissions": {"mode": "accept-edits"}})

    async def run_before(pilot):
        await send(pilot, "greet the world")
        await idle(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_verbose_diff_light_theme_wide(snap_compare, workspace, scripted_server, monkeypatch):
    edit_script(scripted_server)
    app = build(workspace, scripted_server, monkeypatch, theme="textual-light",
                overrides={"permissions": {"mode": "accept-edits"}})

    async def run_before(pilot):
        await send(pilot, "greet the world")
        await idle(pilot, app)
        await pilot.press("ctrl+o")
        await shows(pilot, "+    print('hello, world')")

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_approval_dialog_80x24(snap_compare, workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("bash", {"command": "rm -rf build && python3 -m pytest -q tests/"})))
    app = build(workspace, scripted_server, monkeypatch)

    async def run_before(pilot):
        await send(pilot, "clean and test")
        await shows(pilot, "Allow bash?")
        app.set_busy(False)  # freeze the spinner for a stable picture

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_and_completion_menu(snap_compare, workspace, scripted_server, monkeypatch):
    app = build(workspace, scripted_server, monkeypatch)

    async def run_before(pilot):
        await send(pilot, "/help")
        await shows(pilot, "Keys")
        await pilot.press("/", "m")
        await shows(pilot, "/mode")

    assert snap_compare(app, terminal_size=(100, 40), run_before=run_before)


def test_subagent_panel(snap_compare, workspace, scripted_server, monkeypatch):
    router = Router()
    scripted_server.responder = router
    router.queues["main"] += [reply(tool_use("delegate", {"agent": "explorer", "task": "Find the entry point."})),
                              reply("The entry point is `main()` in app.py.")]
    router.queues["explorer"] += [reply(tool_use("read_file", {"path": "app.py"})),
                                  reply(tool_use("grep", {"pattern": "def main"})),
                                  reply(text("status: ok\nfindings:\n- app.py:1 defines main()\n"
                                             "files:\n- app.py"))]
    app = build(workspace, scripted_server, monkeypatch)

    async def run_before(pilot):
        await send(pilot, "where does it start")
        await idle(pilot, app)
        await pilot.press("ctrl+o")
        await shows(pilot, "grep def main")

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
