"""`[acp] terminal = "client"`: bash runs in terminals the editor creates, only when the person's
config says so and the editor offers them. The SDK's client side drives the real process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, schema, spawn_agent_process, text_block

from termagent.testing.scripted_server import reply, text, tool_use
from tests.test_acp import RecordingClient, agent_env, new_session  # noqa: F401 - agent_env is a fixture

pytestmark = pytest.mark.e2e


class TerminalEditor(RecordingClient):
    """An editor whose terminals are real processes; it remembers what it was asked to run."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.outputs: dict[str, bytearray] = {}
        self.readers: dict[str, asyncio.Task[None]] = {}
        self.created: list[tuple[str, list[str], str | None]] = []
        self.released: list[str] = []

    async def create_terminal(self, command: str, session_id: str, args: list[str] | None = None,
                              cwd: str | None = None, **kwargs: Any) -> schema.CreateTerminalResponse:
        terminal = uuid.uuid4().hex[:8]
        self.created.append((command, list(args or []), cwd))
        process = await asyncio.create_subprocess_exec(command, *(args or []), cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT,
                                                       stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        self.processes[terminal], self.outputs[terminal] = process, bytearray()

        async def read() -> None:
            assert process.stdout is not None
            while chunk := await process.stdout.read(4096):
                self.outputs[terminal] += chunk
        self.readers[terminal] = asyncio.create_task(read())
        return schema.CreateTerminalResponse(terminal_id=terminal)

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str,
                                     **kwargs: Any) -> schema.WaitForTerminalExitResponse:
        code = await self.processes[terminal_id].wait()
        await self.readers[terminal_id]
        return schema.WaitForTerminalExitResponse(exit_code=code)

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> schema.TerminalOutputResponse:
        done = self.processes[terminal_id].returncode
        status = schema.TerminalExitStatus(exit_code=done) if done is not None and self.readers[terminal_id].done() else None
        return schema.TerminalOutputResponse(output=self.outputs[terminal_id].decode(), truncated=False,
                                             exit_status=status)

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> None:
        self.kill(terminal_id)

    def kill(self, terminal_id: str) -> None:
        """The terminal's whole process group, as an editor closing a terminal ends everything in it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[terminal_id].pid, signal.SIGKILL)

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> None:
        """As the protocol says: a terminal still running is killed, and its process reaped."""
        self.released.append(terminal_id)
        self.kill(terminal_id)
        await self.processes[terminal_id].wait()
        await self.readers[terminal_id]


@contextlib.asynccontextmanager
async def terminal_agent(cwd: Path, env: dict[str, str], offer: bool) -> AsyncIterator[tuple[Any, TerminalEditor]]:
    client = TerminalEditor()
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", "acp", env=env, cwd=cwd) as (conn, _):
        await conn.initialize(protocol_version=PROTOCOL_VERSION,
                              client_capabilities=schema.ClientCapabilities(terminal=offer))
        yield conn, client


def choose_client_terminal(env: dict[str, str]) -> None:
    config = Path(env["TERMAGENT_CONFIG_DIR"]) / "config.toml"
    config.write_text('[acp]\nterminal = "client"\n\n[sandbox]\nbackend = "docker"\n')


async def test_commands_run_in_the_editors_terminals_and_keep_their_directory(tmp_path, agent_env, scripted_server):
    choose_client_terminal(agent_env)
    del agent_env["TERMAGENT_SANDBOX"]  # the config's docker choice stands: the terminal choice must override it
    (tmp_path / "sub").mkdir()
    scripted_server.add(reply(tool_use("bash", {"command": "cd sub && pwd && exit 0"})),
                        reply(tool_use("bash", {"command": "echo made > made.txt; exit 3"})),
                        reply(text("Done.")))
    async with terminal_agent(tmp_path, agent_env, offer=True) as (conn, editor):
        editor.answers = ["allow_once", "allow_once"]
        sid = await new_session(conn, tmp_path)
        answer = await conn.prompt(session_id=sid, prompt=[text_block("make a file in sub")])
    assert answer.stop_reason == "end_turn"
    assert [c[0] for c in editor.created] == ["bash", "bash"] and all(c[2] == str(tmp_path) for c in editor.created)
    assert sorted(editor.released) == sorted(editor.processes)  # every terminal handed back
    assert (tmp_path / "sub" / "made.txt").read_text() == "made\n"  # the cd carried over, though the command exited
    results = str(scripted_server.requests[1].body["messages"][-1]) + str(scripted_server.requests[2].body["messages"][-1])
    assert str(tmp_path / "sub") in results and "exit code: 3" in results


async def test_an_editor_without_terminals_leaves_commands_in_our_sandbox(tmp_path, agent_env, scripted_server):
    choose_client_terminal(agent_env)
    scripted_server.add(reply(tool_use("bash", {"command": "echo here"})), reply(text("Done.")))
    async with terminal_agent(tmp_path, agent_env, offer=False) as (conn, editor):
        editor.answers = ["allow_once"]
        sid = await new_session(conn, tmp_path)
        assert (await conn.prompt(session_id=sid, prompt=[text_block("say here")])).stop_reason == "end_turn"
    assert editor.created == [] and "here" in str(scripted_server.requests[1].body["messages"][-1])


def test_a_project_cannot_move_commands_into_the_editors_terminal(tmp_path):
    from termagent.config import ConfigError, load_config

    (tmp_path / ".termagent").mkdir()
    (tmp_path / ".termagent" / "config.toml").write_text('[acp]\nterminal = "client"\n')
    with pytest.raises(ConfigError, match="acp.terminal"):
        load_config(tmp_path, include_project=True)


async def test_a_command_past_its_timeout_is_killed_in_the_editors_terminal(tmp_path, agent_env, scripted_server):
    choose_client_terminal(agent_env)
    scripted_server.add(reply(tool_use("bash", {"command": "echo started; sleep 60", "timeout_s": 1})),
                        reply(text("It hung.")))
    async with terminal_agent(tmp_path, agent_env, offer=True) as (conn, editor):
        editor.answers = ["allow_once"]
        sid = await new_session(conn, tmp_path)
        assert (await conn.prompt(session_id=sid, prompt=[text_block("wait")])).stop_reason == "end_turn"
    (terminal, process), = editor.processes.items()
    assert process.returncode is not None and editor.released == [terminal]  # killed, then handed back
    result = str(scripted_server.requests[1].body["messages"][-1])
    assert "started" in result and "timed out" in result
