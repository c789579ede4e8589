"""`termagent acp` through the warm worker: an editor starts the agent per session and waits
for its first answer, so the ACP server runs in a forked task like a headless one. The SDK's
client side drives real processes; each test has its own runtime dir, hence its own worker."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time

from acp import PROTOCOL_VERSION, spawn_agent_process, text_block

from termagent.testing.scripted_server import reply, text, tool_use
from tests.test_acp import RecordingClient, new_session
from tests.test_worker import runner, workspace  # noqa: F401 - runner is a fixture
from tests.worker_support import DEADLINE_S, alive, descendants, wait_until


def start_editors_worker(runner, ws) -> int:
    """An editor's first session runs in its own process and starts the editors' worker for
    the next; an editor that hangs up at once ends that first session."""
    first = subprocess.run([sys.executable, "-m", "termagent", "acp"], cwd=ws, env=runner.env, input="",
                           capture_output=True, text=True, timeout=DEADLINE_S)
    assert first.returncode == 0 and first.stdout == "" and runner.reports() == [], first.stderr
    wait_until(lambda: bool(runner.worker_pids()), "the worker it started for the next session")
    (listener,) = runner.worker_pids()
    return listener


async def test_the_first_editor_session_starts_the_worker_and_the_next_runs_in_it(tmp_path, runner,
                                                                                   scripted_server):
    ws = workspace(tmp_path, "ws")
    listener = await asyncio.to_thread(start_editors_worker, runner, ws)
    scripted_server.add(reply(tool_use("write_file", {"path": "made.txt", "content": "from the editor\n"})),
                        reply(text("Written.")))
    client = RecordingClient()
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", "acp", env=runner.env,
                                   cwd=ws) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        os.kill(listener, signal.SIGTERM)  # the session is a task of its own: it outlives the listener
        await asyncio.to_thread(wait_until, lambda: not alive(listener), "the listener to exit")
        client.answers = ["allow_once"]
        sid = await new_session(conn, ws)
        answer = await conn.prompt(session_id=sid, prompt=[text_block("write made.txt")])
    assert answer.stop_reason == "end_turn" and client.message_text() == "Written."
    assert (ws / "made.txt").read_text() == "from the editor\n" and len(client.permissions) == 1
    await asyncio.to_thread(wait_until, lambda: len(runner.reports()) == 1, "the client to report the worker's run")


def test_an_editor_that_kills_its_agent_ends_the_session_in_the_worker(tmp_path, runner):
    """The task holds the editor's pipes; it must not live on once the client is gone."""
    ws = workspace(tmp_path, "ws")
    listener = start_editors_worker(runner, ws)
    agent = subprocess.Popen([sys.executable, "-m", "termagent", "acp"], cwd=ws, env=runner.env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert agent.stdin is not None and agent.stdout is not None
    agent.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                  "params": {"protocolVersion": PROTOCOL_VERSION}}).encode() + b"\n")
    agent.stdin.flush()
    assert json.loads(agent.stdout.readline())["id"] == 1
    assert len(descendants(listener)) == 2  # the connection's handler and the ACP task it forked
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    assert _read_to_end(agent.stdout.fileno()) == b""  # every writer of the editor's pipe has exited
    wait_until(lambda: not descendants(listener), "the handler and its task to end")
    agent.stdin.close()


def _read_to_end(fd: int) -> bytes:
    """What is left on the pipe until end of file, which comes once no process holds it open."""
    left, deadline = b"", time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return left
            left += chunk
    raise AssertionError("the ACP task kept the editor's pipe open after its client was killed")
