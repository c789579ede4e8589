"""The installed console script in real subprocesses: what only a real process can show.

Each run pays the SDK import, so this file keeps to exit codes, output formats, stdin,
start-up hygiene and crash recovery; behaviour lives in the in-process tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termagent.testing.scripted_server import reply, text, tool_use

pytestmark = pytest.mark.e2e
TERMAGENT = str(Path(sys.executable).parent / "termagent")


def run(args, cwd, env, stdin=None, timeout=60):
    return subprocess.run([TERMAGENT, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def env(isolated_state, scripted_server):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-e2e-secret-0000000000",
                   TERMAGENT_SANDBOX="none")
    return environ


def test_core_import_pulls_no_ui_docker_git_or_sdk():
    code = ("import sys, termagent.core.assembly, termagent.headless, termagent.cli;"
            "bad=[m for m in ('textual','rich','docker','git','anthropic','prompt_toolkit') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_help_lists_the_headless_flags(tmp_path):
    result = run(["--help"], tmp_path, os.environ.copy())
    assert result.returncode == 0
    for flag in ("--task", "--output", "--resume", "--max-turns", "--max-cost-usd", "--sandbox"):
        assert flag in result.stdout


def test_no_credentials_exits_3_with_one_clear_line(tmp_path, isolated_state):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    result = run(["--task", "hello"], tmp_path, environ)
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_broken_project_config_names_file_and_line(tmp_path, env):
    (tmp_path / ".termagent").mkdir()
    (tmp_path / ".termagent" / "config.toml").write_text("[permissions]\nmode = \n")
    result = run(["--trust-project", "--task", "hi"], tmp_path, env)
    assert result.returncode == 2
    assert "config.toml:2" in result.stderr


def test_edit_task_from_stdin_with_json_output(tmp_path, env, scripted_server):
    (tmp_path / "notes.txt").write_text("colour\n")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(text("Spelling fixed.")),
    )
    result = run(["--mode", "accept-edits", "--output", "json", "--task", "-"], tmp_path, env, stdin="fix spelling")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["result"] == "Spelling fixed." and payload["exit_reason"] == "done"
    assert (tmp_path / "notes.txt").read_text() == "color\n"
    assert scripted_server.requests[0].body["messages"][0]["content"][0]["text"] == "fix spelling"
    assert "sk-e2e-secret" not in result.stdout + result.stderr


def test_stream_json_prints_one_event_per_line(tmp_path, env, scripted_server):
    scripted_server.add(reply(text("hi there")))
    result = run(["--output", "stream-json", "--task", "greet"], tmp_path, env)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    types = [line["type"] for line in lines]
    assert types[0] == "session_started" and types[-1] == "result"
    assert "assistant_text_delta" in types and "turn_finished" in types
    finished = next(line for line in lines if line["type"] == "session_finished")
    assert finished["exit_reason"] == "done"


def test_resume_after_sigkill_keeps_committed_turns(tmp_path, env, scripted_server):
    scripted_server.add(
        reply(tool_use("write_file", {"path": "made.txt", "content": "one\n"})),
        reply(text("this reply streams slowly " * 50)),
    )
    proc = subprocess.Popen([TERMAGENT, "--mode", "accept-edits", "--task", "make a file"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180  # a loaded machine starts the console script slowly
    while len(scripted_server.requests) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    scripted_server.chunk_delay_s = 0.2
    while len(scripted_server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(scripted_server.requests) == 2, "the second request (mid-stream when killed) never came"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert (tmp_path / "made.txt").read_text() == "one\n"
    scripted_server.chunk_delay_s = 0.0
    scripted_server.add(reply(text("continuing")))
    result = run(["--resume", "--output", "json", "--task", "go on"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    sent = json.dumps(scripted_server.requests[-1].body["messages"])
    assert "make a file" in sent and "made.txt" in sent and "go on" in sent
    listing = run(["sessions"], tmp_path, env)
    assert json.loads(result.stdout)["session_id"] in listing.stdout


def test_replay_runs_the_bundled_session_without_a_key(tmp_path, isolated_state):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    result = run(["replay"], tmp_path, environ)
    assert result.returncode == 0, result.stderr
    assert "REPLAY" in result.stderr and "scripted model" in result.stderr
    assert "return sum(values) / len(values)\n" in result.stderr
    assert "- 1" not in result.stderr.split("stats.py after the session")[1]
    assert "Fixed the off-by-one" in result.stdout


def test_unsandboxed_runs_warn_on_stderr(tmp_path, env, scripted_server):
    scripted_server.add(reply(text("hi")))
    result = run(["--task", "hi"], tmp_path, env)
    assert result.returncode == 0
    assert "sandbox disabled" in result.stderr and result.stdout.strip() == "hi"
