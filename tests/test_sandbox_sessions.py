"""Security cases as whole scripted sessions: the model's bash call goes through the
policy, the session's Docker container and back. Effects are checked, not exit codes.

The exhaustive per-case suite (against the sandbox API) is test_sandbox_security.py;
this file proves the same walls stand when the path starts at the model.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import make_session, tool_results

pytestmark = pytest.mark.docker
DOCKER = {"sandbox": {"backend": "docker", "memory": "512m", "timeout_default_s": 20},
          "permissions": {"mode": "auto"}}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


async def one_command(workspace, server, monkeypatch, command, **extra):
    server.add(reply(tool_use("bash", {"command": command, **extra})), reply(text("done")))
    session, _ = make_session(workspace, server, monkeypatch, overrides=DOCKER)
    out = io.StringIO()
    result = await run_headless(session, "run it", "json", out, io.StringIO())
    return result, tool_results(server.requests[-1].body)[0]["content"], json.loads(out.getvalue())


async def test_egress_attempts_reach_nothing(workspace, scripted_server, monkeypatch, docker_client,
                                             gateway_listener):
    host = gateway_listener.host
    hits_before = gateway_listener.hits  # the listener is shared; other tests' controls hit it on purpose
    command = (
        f"python3 -c \"import socket; s=socket.socket(); s.settimeout(2); s.connect(('{host}', "
        f"{gateway_listener.port}))\"; echo tcp=$?; "
        f"(exec 3<>/dev/tcp/{host}/{gateway_listener.port}) 2>/dev/null; echo devtcp=$?; "
        "getent hosts example.com; echo dns=$?"
    )
    result, output, _ = await one_command(workspace, scripted_server, monkeypatch, command)
    assert result.exit_code == 0
    assert "tcp=1" in output and "devtcp=1" in output and "dns=2" in output
    await asyncio.to_thread(gateway_listener.barrier)  # whatever the command sent has been counted by now
    assert gateway_listener.hits == hits_before


async def test_writes_outside_the_workspace_fail_and_inside_land_as_host_user(workspace, scripted_server,
                                                                              monkeypatch, docker_client):
    command = "touch /etc/x 2>&1; echo etc=$?; touch /usr/bin/z 2>&1; echo usr=$?; echo hi > made.txt; echo ws=$?"
    result, output, _ = await one_command(workspace, scripted_server, monkeypatch, command)
    assert "etc=1" in output and "usr=1" in output and "ws=0" in output
    made = workspace / "made.txt"
    assert made.read_text() == "hi\n" and made.stat().st_uid == os.getuid()


async def test_no_host_secrets_inside(workspace, scripted_server, monkeypatch, docker_client):
    monkeypatch.setenv("TERMAGENT_CANARY_SECRET", "canary-value-42")
    command = "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; ls -a ~ ; echo ssh=$SSH_AUTH_SOCK"
    result, output, _ = await one_command(workspace, scripted_server, monkeypatch, command)
    assert "sk-test-key" not in output and "canary-value-42" not in output and "ANTHROPIC" not in output
    assert re.search(r"^ssh=$", output, re.M)  # no agent socket forwarded


async def test_infinite_loop_is_killed_at_the_timeout_and_the_session_goes_on(workspace, scripted_server,
                                                                              monkeypatch, docker_client):
    scripted_server.add(reply(tool_use("bash", {"command": "while :; do :; done", "timeout_s": 2})),
                        reply(tool_use("bash", {"command": "echo still-here"})), reply(text("ok")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=DOCKER)
    out = io.StringIO()
    result = await run_headless(session, "spin", "json", out, io.StringIO())
    first = tool_results(scripted_server.requests[1].body)[0]
    second = tool_results(scripted_server.requests[2].body)[0]
    assert first["is_error"] and "timed out after 2s" in first["content"]
    assert "still-here" in second["content"] and result.exit_code == 0


async def test_missing_image_ends_the_session_with_exit_5(workspace, scripted_server, monkeypatch, docker_client):
    scripted_server.add(reply(tool_use("bash", {"command": "true"})))
    scripted_server.add_spare(reply(text("never reached")))
    overrides = {**DOCKER, "sandbox": {**DOCKER["sandbox"], "image": "termagent-no-such-image:latest"}}
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides=overrides)
    err = io.StringIO()
    result = await run_headless(session, "run", "json", io.StringIO(), err)
    assert result.exit_code == 5
    assert "termagent sandbox build" in err.getvalue()
    assert len(scripted_server.requests) == 1


async def test_a_nested_repository_made_by_a_command_is_a_session_warning(workspace, scripted_server, monkeypatch,
                                                                          docker_client):
    from termagent.protocol import Warning

    scripted_server.add(reply(tool_use("bash", {"command": "mkdir sub && git -C sub init -q && echo made"})),
                        reply(text("done")))
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides=DOCKER)
    await run_headless(session, "run it", "json", io.StringIO(), io.StringIO())
    output = tool_results(scripted_server.requests[-1].body)[0]["content"]
    assert "made" in output and "[warning: the command created a git repository at sub/.git" in output
    assert any(isinstance(e, Warning) and "sub/.git" in e.message for e in events)
