"""The installed console script in a real terminal (tmux): type a prompt, read the screen.

What only a real terminal shows: the app starts from the console script, draws, takes
keys from a pty, streams the answer, and quits on ctrl+c twice with the terminal left
usable. tmux runs on its own socket, so nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termagent.testing.scripted_server import reply, tool_use

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
TERMAGENT = str(Path(sys.executable).parent / "termagent")


class Terminal:
    def __init__(self, socket: str, name: str) -> None:
        self.socket = socket
        self.name = name

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def transcript(self) -> str:
        """Everything the pane showed, scrolled-off lines included, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.name).stdout

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if needle in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared; the screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", self.name).returncode == 0


@pytest.fixture
def terminal(tmp_path, scripted_server, isolated_state):
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "app.py").write_text("print('hello')\n")
    env = {
        "ANTHROPIC_BASE_URL": scripted_server.url, "ANTHROPIC_API_KEY": "sk-e2e-secret-0000000000",
        "TERMAGENT_STATE_DIR": os.environ["TERMAGENT_STATE_DIR"],
        "TERMAGENT_CONFIG_DIR": os.environ["TERMAGENT_CONFIG_DIR"], "TERM": "xterm-256color",
        "HOME": str(tmp_path), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8",
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    status = tmp_path / "exit-status"
    command = (f"cd {shlex.quote(str(workspace))} && env -i {exports} {shlex.quote(TERMAGENT)} --sandbox none; "
               f"echo $? > {shlex.quote(str(status))}")
    term = Terminal(f"termagent-test-{os.getpid()}", "app")
    term.tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", "sh", "-c", command)
    term.status = status
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_the_console_script_answers_a_prompt_in_a_real_terminal(terminal, scripted_server):
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})),
                        reply("It prints **hello** once."))
    terminal.wait_for("/help for commands", timeout=30)
    screen = terminal.screen()
    assert "sandbox none" in screen and "ask ⇧⇥" in screen
    terminal.keys("-l", "what does app.py do")
    terminal.keys("Enter")
    screen = terminal.wait_for("It prints hello once.")
    assert "what does app.py do" in screen and "read_file  app.py" in screen
    assert "**" not in screen
    terminal.keys("C-c")
    terminal.keys("C-c")
    deadline = time.monotonic() + 20
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not terminal.alive()
    assert terminal.status.read_text().strip() == "130"
    request = scripted_server.requests[0].body
    assert request["messages"][-1]["content"][0]["text"] == "what does app.py do"
