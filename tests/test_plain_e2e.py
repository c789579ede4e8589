"""Line mode in a real terminal (tmux): what only a tty's cooked mode shows, keys typed
ahead while a turn runs."""

from __future__ import annotations

import os
import shlex
import shutil
import time

import pytest

from termagent.testing.scripted_server import reply
from tests.test_tui_e2e import TERMAGENT, Terminal

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


@pytest.fixture
def plain_terminal(tmp_path, scripted_server, isolated_state):
    workspace = tmp_path / "project"
    workspace.mkdir()
    env = {
        "ANTHROPIC_BASE_URL": scripted_server.url, "ANTHROPIC_API_KEY": "sk-e2e-secret-0000000000",
        "TERMAGENT_STATE_DIR": os.environ["TERMAGENT_STATE_DIR"],
        "TERMAGENT_CONFIG_DIR": os.environ["TERMAGENT_CONFIG_DIR"], "TERM": "xterm-256color",
        "HOME": str(tmp_path), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"cd {shlex.quote(str(workspace))} && env -i {exports} {shlex.quote(TERMAGENT)} --plain --sandbox none"
    term = Terminal(f"termagent-plain-{os.getpid()}", "plain")
    term.tmux("new-session", "-d", "-s", "plain", "-x", "100", "-y", "40", "sh", "-c", command)
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_commands_and_a_prompt_typed_during_a_turn_each_run_once_it_ends(plain_terminal, scripted_server):
    scripted_server.pieces = 100
    scripted_server.add(reply("first " * 100 + "END-OF-FIRST"), reply("SECOND-ANSWER"))
    plain_terminal.wait_for("ctrl+c interrupts", timeout=30)
    scripted_server.chunk_delay_s = 0.2  # the first answer streams for ~20 s: the keys below come during it
    plain_terminal.keys("-l", "go")
    plain_terminal.keys("Enter")
    deadline = time.monotonic() + 30
    while not scripted_server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    for keys in ("/mode plan", "Enter", "/agents", "Enter", "and then this", "Enter"):
        plain_terminal.keys("-l", keys) if keys != "Enter" else plain_terminal.keys("Enter")
    assert "END-OF-FIRST" not in plain_terminal.screen()  # typed ahead, not after the turn
    plain_terminal.wait_for("SECOND-ANSWER", timeout=60)
    shown = plain_terminal.transcript()  # the screen alone may have scrolled past the commands' answers
    assert "permission mode: plan" in shown and "explorer" in shown, shown
    assert shown.index("END-OF-FIRST") < shown.index("permission mode: plan") < shown.index("SECOND-ANSWER")
    assert len(scripted_server.requests) == 2
    sent = scripted_server.requests[1].body["messages"][-1]["content"]
    assert [block.get("text") for block in sent if block.get("type") == "text"] == ["and then this"]
