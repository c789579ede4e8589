"""`termagent acp` as an editor sees it: the SDK's own client side drives the real process
over pipes, with the scripted model server behind it and the host sandbox (`none`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, RequestError, schema, spawn_agent_process, text_block

from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use

pytestmark = pytest.mark.e2e
DEADLINE_S = 60.0


class RecordingClient:
    """An editor that records every update and answers permission requests from a script."""

    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.permissions: list[schema.RequestPermissionRequest] = []
        self.answers: list[str] = []  # option ids, in order; "cancelled" cancels
        self.changed = asyncio.Event()
        self.released = asyncio.Event()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append(update)
        self.changed.set()

    async def request_permission(self, session_id: str, tool_call: Any, options: list[Any],
                                 **kwargs: Any) -> schema.RequestPermissionResponse:
        self.permissions.append(schema.RequestPermissionRequest(session_id=session_id, tool_call=tool_call,
                                                                options=options))
        self.changed.set()
        choice = self.answers.pop(0) if self.answers else "cancelled"
        if choice == "hold":  # the person looks at the dialog until the editor cancels the turn
            await self.released.wait()
            choice = "cancelled"
        if choice == "cancelled":
            return schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))
        return schema.RequestPermissionResponse(outcome=schema.AllowedOutcome(outcome="selected", option_id=choice))

    def of(self, kind: str) -> list[Any]:
        return [u for u in self.updates if u.session_update == kind]

    def message_text(self) -> str:
        return "".join(u.content.text for u in self.of("agent_message_chunk"))

    async def until(self, predicate: Any) -> None:
        """Wait for the condition an update makes true; fails after a generous deadline."""
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), DEADLINE_S)


@pytest.fixture
def agent_env(isolated_state: Path, scripted_server: ScriptedServer) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    environ.update(ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-acp-secret-0000000000",
                   TERMAGENT_SANDBOX="none")
    return environ


@contextlib.asynccontextmanager
async def running_agent(cwd: Path, env: dict[str, str], *flags: str,
                        top: tuple[str, ...] = ()) -> AsyncIterator[tuple[Any, RecordingClient]]:
    client = RecordingClient()
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", *top, "acp", "--sandbox", "none", *flags,
                                   env=env, cwd=cwd) as (conn, _process):
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        yield conn, client


async def new_session(conn: Any, cwd: Path) -> str:
    return (await conn.new_session(cwd=str(cwd), mcp_servers=[])).session_id


async def test_initialize_offers_load_and_embedded_context(tmp_path, agent_env):
    client = RecordingClient()
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", "acp", env=agent_env,
                                   cwd=tmp_path) as (conn, _):
        answer = await conn.initialize(protocol_version=PROTOCOL_VERSION)
        assert answer.agent_capabilities.load_session
        assert answer.agent_capabilities.prompt_capabilities.embedded_context
        session = await conn.new_session(cwd=str(tmp_path), mcp_servers=[])
        assert session.modes.current_mode_id == "ask"
        assert {m.id for m in session.modes.available_modes} == {"plan", "ask", "accept-edits", "auto"}
        await client.until(lambda: client.of("available_commands_update"))
        names = {c.name for c in client.of("available_commands_update")[0].available_commands}
        assert {"compact", "mode", "model", "cost"} <= names and "quit" not in names
        server = schema.McpServerStdio(name="tools", command="/bin/true", args=[], env=[])
        with_mcp = await conn.new_session(cwd=str(tmp_path), mcp_servers=[server])
        assert with_mcp.session_id != session.session_id  # a server that fails to start does not stop the session


def test_building_the_parser_does_not_import_the_sdk():
    import subprocess

    code = "import sys, termagent.cli; termagent.cli.build_parser(); print('acp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


async def test_multi_turn_edit_streams_text_and_shows_the_diff(tmp_path, agent_env, scripted_server):
    (tmp_path / "notes.txt").write_text("the colour red\n")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("It says colour.")),
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(text("Spelling fixed.")),
    )
    async with running_agent(tmp_path, agent_env, "--mode", "accept-edits") as (conn, client):
        sid = await new_session(conn, tmp_path)
        first = await conn.prompt(session_id=sid, prompt=[text_block("what does notes.txt say?")])
        assert first.stop_reason == "end_turn" and client.message_text() == "It says colour."
        read = client.of("tool_call")[0]
        assert read.kind == "read" and read.locations[0].path == str(tmp_path / "notes.txt")
        second = await conn.prompt(session_id=sid, prompt=[text_block("fix the spelling")])
        assert second.stop_reason == "end_turn"
    usage = client.of("usage_update")[-1]
    assert usage.size > 0 and usage.used > 0 and usage.cost.currency == "USD"
    edit = client.of("tool_call")[1]
    assert edit.kind == "edit"
    done = [u for u in client.of("tool_call_update") if u.tool_call_id == edit.tool_call_id and u.status]
    assert done[-1].status == "completed"
    diff = done[-1].content[0]
    assert diff.type == "diff" and diff.path == str(tmp_path / "notes.txt")
    assert (diff.old_text, diff.new_text) == ("the colour red\n", "the color red\n")
    assert (tmp_path / "notes.txt").read_text() == "the color red\n"
    history = json.dumps(scripted_server.requests[-1].body["messages"])
    assert "what does notes.txt say?" in history and "It says colour." in history


PERMISSION_CASES = (  # first answer, requests made, what out.txt holds after two writes ("one", then "two")
    ("allow_once", 2, "one\n"),  # asked again for the second write, which the client rejects
    ("allow_always", 1, "two\n"),
    ("reject_once", 2, None),
    ("reject_always", 1, None),
)


async def test_permission_answered_each_way(tmp_path, agent_env, scripted_server):
    async with running_agent(tmp_path, agent_env) as (conn, client):
        for first, asked, written in PERMISSION_CASES:
            workspace = tmp_path / first
            workspace.mkdir()
            scripted_server.add(
                reply(tool_use("write_file", {"path": "out.txt", "content": "one\n"})),
                reply(tool_use("write_file", {"path": "out.txt", "content": "two\n"})),
                reply(text("done")),
            )
            client.permissions.clear()
            client.answers = [first, "reject_once"]
            sid = await new_session(conn, workspace)
            await conn.prompt(session_id=sid, prompt=[text_block("write out.txt twice")])
            assert len(client.permissions) == asked, first
            request = client.permissions[0]
            assert {o.kind for o in request.options} == {"allow_once", "allow_always", "reject_once", "reject_always"}
            diff = request.tool_call.content[0]
            assert diff.type == "diff" and diff.old_text is None and diff.new_text == "one\n"
            out = workspace / "out.txt"
            assert (out.read_text() if out.exists() else None) == written, first
            results = json.dumps(scripted_server.requests[-1].body["messages"][-1])
            assert ("permission denied" in results) == (first != "allow_always"), first


async def test_destructive_command_offers_no_always(tmp_path, agent_env, scripted_server):
    (tmp_path / "src").mkdir()
    scripted_server.add(reply(tool_use("bash", {"command": "rm -rf src"})), reply(text("left it")))
    async with running_agent(tmp_path, agent_env, "--mode", "auto") as (conn, client):
        sid = await new_session(conn, tmp_path)
        client.answers = ["reject_once"]
        await conn.prompt(session_id=sid, prompt=[text_block("clean up")])
    assert len(client.permissions) == 1
    assert {o.kind for o in client.permissions[0].options} == {"allow_once", "reject_once"}
    assert (tmp_path / "src").is_dir()
    call = client.of("tool_call")[0]
    assert call.kind == "execute"
    final = [u for u in client.of("tool_call_update") if u.status][-1]
    assert final.status == "failed" and final.content[0].content.text == "$ rm -rf src"


async def test_cancel_mid_stream_keeps_the_history_valid(tmp_path, agent_env, scripted_server):
    scripted_server.add(reply(text("counting slowly " * 200)), reply(text("fresh answer")))
    async with running_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        scripted_server.chunk_delay_s = 0.05
        running = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=[text_block("count")]))
        await client.until(lambda: client.of("agent_message_chunk"))
        with pytest.raises(RequestError) as second:
            await conn.prompt(session_id=sid, prompt=[text_block("meanwhile")])
        assert "already running" in str(second.value.data)
        await conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(running, DEADLINE_S)).stop_reason == "cancelled"
        scripted_server.chunk_delay_s = 0.0
        after = await conn.prompt(session_id=sid, prompt=[text_block("again")])
        assert after.stop_reason == "end_turn"
    assert client.message_text().endswith("fresh answer")
    messages = scripted_server.requests[-1].body["messages"]
    assert [m["role"] for m in messages][-1] == "user" and "count" in json.dumps(messages[0])
    assert "meanwhile" not in json.dumps(messages)


async def test_load_replays_the_transcript_then_continues(tmp_path, agent_env, scripted_server):
    scripted_server.add(reply(tool_use("write_file", {"path": "made.txt", "content": "one\n"})),
                        reply(text("made it")))
    async with running_agent(tmp_path, agent_env, "--mode", "accept-edits") as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("make a file")])
    scripted_server.add(reply(text("still here")))
    async with running_agent(tmp_path, agent_env, "--mode", "accept-edits") as (conn, client):
        await conn.load_session(cwd=str(tmp_path), session_id=sid, mcp_servers=[])
        kinds = [u.session_update for u in client.updates]
        assert kinds.index("user_message_chunk") < kinds.index("tool_call") < kinds.index("agent_message_chunk")
        assert client.of("user_message_chunk")[0].content.text == "make a file"
        replayed = client.of("tool_call")[0]
        assert replayed.kind == "edit" and replayed.title == "made.txt"
        assert any(u.tool_call_id == replayed.tool_call_id and u.status == "completed"
                   for u in client.of("tool_call_update"))
        assert client.message_text() == "made it"
        await conn.prompt(session_id=sid, prompt=[text_block("go on")])
        with pytest.raises(RequestError):
            await conn.load_session(cwd=str(tmp_path), session_id="no-such-session", mcp_servers=[])
    sent = json.dumps(scripted_server.requests[-1].body["messages"])
    assert "make a file" in sent and "made.txt" in sent and "go on" in sent


async def test_mode_and_model_changes(tmp_path, agent_env, scripted_server):
    scripted_server.add(reply(tool_use("write_file", {"path": "plan.txt", "content": "x"})), reply(text("ok")))
    async with running_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.set_session_mode(session_id=sid, mode_id="plan")
        await client.until(lambda: client.of("current_mode_update"))
        assert client.of("current_mode_update")[-1].current_mode_id == "plan"
        with pytest.raises(RequestError):
            await conn.set_session_mode(session_id=sid, mode_id="yolo")
        await conn.set_config_option(config_id="model", session_id=sid, value="claude-haiku-4-5")
        await client.until(lambda: client.of("config_option_update"))
        assert client.of("config_option_update")[-1].config_options[0].current_value == "claude-haiku-4-5"
        await conn.prompt(session_id=sid, prompt=[text_block("write a plan file")])
        await conn.prompt(session_id=sid, prompt=[text_block("/mode")])
    assert not (tmp_path / "plan.txt").exists() and client.permissions == []
    assert scripted_server.requests[0].body["model"] == "claude-haiku-4-5"
    assert client.message_text().endswith("mode: plan")


async def test_malformed_input_gets_json_rpc_errors_and_nothing_else(tmp_path, agent_env):
    lines = [b"not json at all", b"[1, 2]", b'{"jsonrpc": "2.0", "id": 7}',
             b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}',
             b'{"jsonrpc": "2.0", "id": 2, "method": "session/frobnicate", "params": {}}',
             (b'{"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": {"sessionId": "nope", '
              b'"prompt": [{"type": "text", "text": "hi"}]}}'),
             (b'{"jsonrpc": "2.0", "id": 4, "method": "session/new", "params": {"cwd": "relative/dir", '
              b'"mcpServers": []}}'),
             b'{"jsonrpc": "2.0", "id": 5, "method": "session/prompt", "params": {"sessionId": 5}}']
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "termagent", "acp", "--sandbox", "none", cwd=tmp_path, env=agent_env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(b"\n".join(lines) + b"\n"), DEADLINE_S)
    assert process.returncode == 0
    replies = [json.loads(line) for line in out.splitlines()]
    assert all(r["jsonrpc"] == "2.0" for r in replies)
    answered = sorted((str(r["id"]), r.get("error", {}).get("code", 0)) for r in replies)
    assert answered == sorted([("1", 0), ("2", -32601), ("3", -32602), ("4", -32602), ("5", -32602), ("7", -32600),
                               ("None", -32700), ("None", -32600)])


def test_stdin_or_stdout_that_is_not_a_pipe_is_refused_at_once(tmp_path, agent_env):
    """`termagent acp < /dev/null` waited forever; `> file` ended in a traceback."""
    import subprocess

    acp = [sys.executable, "-m", "termagent", "acp"]
    closed = subprocess.run(acp, cwd=tmp_path, env=agent_env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=DEADLINE_S)
    with (tmp_path / "out.txt").open("w") as file:
        to_file = subprocess.run(acp, cwd=tmp_path, env=agent_env, input="", stdout=file, stderr=subprocess.PIPE,
                                 text=True, timeout=DEADLINE_S)
    assert (closed.returncode, closed.stdout) == (2, "") and "stdin is not a pipe" in closed.stderr
    assert to_file.returncode == 2 and "stdout is not a pipe" in to_file.stderr and "Traceback" not in to_file.stderr
    assert (tmp_path / "out.txt").read_text() == ""


async def test_subagent_activity_shows_as_nested_tool_calls(tmp_path, agent_env, scripted_server):
    from tests.test_subagents import Router

    (tmp_path / "notes.txt").write_text("hello\n")
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "explorer", "task": "what is in notes.txt?"})),
               reply(text("it says hello")))
    router.add("explorer", reply(tool_use("read_file", {"path": "notes.txt"})),
               reply(text("status: ok\nfindings:\n- notes.txt says hello")))
    async with running_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("ask the explorer")])
    delegate, nested = client.of("tool_call")
    assert delegate.kind == "think" and nested.title == "[explorer] notes.txt" and nested.kind == "read"
    assert nested.tool_call_id != delegate.tool_call_id
    finished = {u.tool_call_id: u.status for u in client.of("tool_call_update") if u.status}
    assert finished == {delegate.tool_call_id: "completed", nested.tool_call_id: "completed"}
    assert client.message_text() == "it says hello"


async def test_a_limit_ends_the_prompt_with_its_reason(tmp_path, agent_env, scripted_server):
    (tmp_path / "notes.txt").write_text("hello\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "notes.txt"})))
    scripted_server.add_spare(reply(text("never sent")))
    async with running_agent(tmp_path, agent_env, top=("--max-turns", "1")) as (conn, client):
        sid = await new_session(conn, tmp_path)
        answer = await conn.prompt(session_id=sid, prompt=[text_block("read it")])
    assert answer.stop_reason == "max_turn_requests"
    assert "turn stopped" in client.message_text() and len(scripted_server.requests) == 1


async def test_cancel_while_the_editor_asks_denies_and_ends_the_turn(tmp_path, agent_env, scripted_server):
    scripted_server.add(reply(tool_use("write_file", {"path": "late.txt", "content": "x"})), reply(text("next")))
    async with running_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        client.answers = ["hold"]
        running = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=[text_block("write late.txt")]))
        await client.until(lambda: client.permissions)
        await conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(running, DEADLINE_S)).stop_reason == "cancelled"
        client.released.set()  # the editor closes its dialog with "cancelled", as the protocol asks
        assert (await conn.prompt(session_id=sid, prompt=[text_block("go on")])).stop_reason == "end_turn"
    assert not (tmp_path / "late.txt").exists()
    finished = [u for u in client.of("tool_call_update") if u.status]
    assert [u.status for u in finished] == ["failed"]
    messages = scripted_server.requests[-1].body["messages"]
    assert "write late.txt" in json.dumps(messages) and messages[-1]["role"] == "user"
