"""What a person or a script sees when a run goes wrong: a clear line on stderr, the json
object on stdout, an honest exit code, and never a traceback for something one can type."""

from __future__ import annotations

import json
import subprocess

import pytest

from termagent.store.db import Store
from termagent.testing.scripted_server import reply, text, tool_use
from tests.test_cli_e2e import TERMAGENT, env, run  # noqa: F401 - env is a fixture

pytestmark = pytest.mark.e2e


def test_missing_workspace_is_a_usage_error(tmp_path, env):
    result = run(["-C", str(tmp_path / "nope"), "--task", "hi"], tmp_path, env)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_file_as_workspace_is_a_usage_error(tmp_path, env):
    (tmp_path / "file.py").write_text("x = 1\n")
    result = run(["-C", str(tmp_path / "file.py"), "sessions"], tmp_path, env)
    assert result.returncode == 2
    assert "not a directory" in result.stderr and "Traceback" not in result.stderr


def _stored_sessions(workspace: str) -> None:
    """More output than a pipe buffers: 50 sessions with long workspace names, and a newest
    session with a long audit log, so the writer is still writing when the reader leaves."""
    store = Store()
    try:
        for n in range(50):
            sid = store.create_session(workspace + "/" + "w" * 3000 if n < 49 else workspace, "m")
            store.append_message(sid, {"role": "user", "content": [{"type": "text", "text": "hi"}]})
        for n in range(600):
            store.record_audit(sid, f"c{n}", "bash", {"command": "x" * 200}, "allow", "rule", "")
    finally:
        store.close()


@pytest.mark.parametrize("command", ["sessions", "audit"])
def test_closed_pipe_exits_quietly(tmp_path, env, command):
    _stored_sessions(str(tmp_path))
    proc = subprocess.Popen([TERMAGENT, "-C", str(tmp_path), command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_sessions_without_messages_are_not_listed(tmp_path, env):
    store = Store()
    try:
        empty = store.create_session(str(tmp_path), "m")
        used = store.create_session(str(tmp_path), "m")
        store.append_message(used, {"role": "user", "content": [{"type": "text", "text": "hi"}]})
        newest_empty = store.create_session(str(tmp_path), "m")
    finally:
        store.close()
    listing = run(["sessions"], tmp_path, env).stdout
    assert used in listing and empty not in listing and newest_empty not in listing
    assert f"audit log of session {used}" in run(["audit"], tmp_path, env).stdout


@pytest.mark.parametrize("output", ["json", "stream-json"])
def test_early_failure_still_prints_the_result_object(tmp_path, env, output):
    environ = {k: v for k, v in env.items() if not k.startswith("ANTHROPIC_")}
    result = run(["--output", output, "--task", "hello"], tmp_path, environ)
    assert result.returncode == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["exit_reason"] == "api_error" and "ANTHROPIC_API_KEY" in lines[-1]["detail"]
    if output == "stream-json":
        assert lines[0] == {"type": "session_finished", "session_id": None, "exit_reason": "api_error"}


def test_config_error_json_says_usage_error(tmp_path, env):
    (tmp_path / ".termagent").mkdir()
    (tmp_path / ".termagent" / "config.toml").write_text("[permissions]\nmode = \n")
    result = run(["--trust-project", "--output", "json", "--task", "hi"], tmp_path, env)
    assert result.returncode == 2
    assert json.loads(result.stdout)["exit_reason"] == "usage_error"


def test_denied_edit_is_named_on_stderr(tmp_path, env, scripted_server):
    (tmp_path / "notes.txt").write_text("colour\n")
    scripted_server.add(
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(text("All done")),
    )
    result = run(["--task", "fix spelling"], tmp_path, env)
    assert result.returncode == 4
    denied = [line for line in result.stderr.splitlines() if "denied: edit_file" in line]
    assert len(denied) == 1 and "notes.txt" in denied[0]


def test_turn_limit_is_named_on_stderr(tmp_path, env, scripted_server):
    scripted_server.add(reply(text("I will now look at"), tool_use("read_file", {"path": "a.txt"})))
    (tmp_path / "a.txt").write_text("a\n")
    result = run(["--max-turns", "1", "--task", "look"], tmp_path, env)
    assert result.returncode == 1
    assert "stopped early: max turns reached (1)" in result.stderr


def _engine_down(env, tmp_path):
    return {**env, "TERMAGENT_SANDBOX": "docker", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}


def test_an_unreachable_engine_is_reported_at_start_not_at_the_first_command(tmp_path, env, scripted_server):
    scripted_server.add(reply(text("Nothing to run.")))
    result = run(["--task", "just answer"], tmp_path, _engine_down(env, tmp_path))
    assert "commands cannot run in this session" in result.stderr
    assert "Docker engine not reachable" in result.stderr


def test_sandbox_status_exits_5_when_the_engine_is_down(tmp_path, env):
    result = run(["sandbox", "status"], tmp_path, _engine_down(env, tmp_path))
    assert result.returncode == 5
    assert "engine: unreachable" in result.stdout and "Traceback" not in result.stderr


def test_a_repository_whose_only_setting_is_mcp_json_starts_no_server_until_trusted(tmp_path, env,
                                                                                   scripted_server):
    """An .mcp.json stdio server is a program run on this machine: a cloned repository with
    nothing but that file must not be 'trusted because there is nothing to trust'."""
    marker = tmp_path.parent / f"{tmp_path.name}-server-ran"
    (tmp_path / ".mcp.json").write_text(json.dumps(
        {"mcpServers": {"planted": {"command": "touch", "args": [str(marker)]}}}))
    scripted_server.add(reply(text("nothing to do")))
    result = run(["--task", "just answer", "--sandbox", "none"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "MCP servers" in result.stderr and "--trust-project" in result.stderr
    assert not marker.exists()

    from termagent.trust import is_trusted, trust

    trust(tmp_path)
    assert is_trusted(tmp_path)
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"other": {"command": "true"}}}))
    assert not is_trusted(tmp_path)  # a changed server list asks again
