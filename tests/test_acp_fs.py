"""`termagent acp` with an editor that offers its files and takes images: the SDK's client side
drives the real process over pipes, the scripted model server records what the model got."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, RequestError, image_block, schema, spawn_agent_process, text_block

from termagent.git import list_checkpoints, rewind
from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use
from tests.test_acp import RecordingClient, agent_env, new_session  # noqa: F401 - agent_env is a fixture

pytestmark = pytest.mark.e2e
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


class EditorClient(RecordingClient):
    """An editor holding buffers: reads answer from them, writes land in them and are saved to disk."""

    def __init__(self) -> None:
        super().__init__()
        self.buffers: dict[str, str] = {}
        self.reads: list[str] = []
        self.writes: list[tuple[str, str, str | None]] = []  # path, new text, what the disk held then
        self.failing = False
        self.holding = False
        self.held = asyncio.Event()

    async def read_text_file(self, path: str, session_id: str, limit: int | None = None, line: int | None = None,
                             **kwargs: Any) -> schema.ReadTextFileResponse:
        self.reads.append(path)
        if self.holding:
            self.held.set()
            await asyncio.Event().wait()
        if self.failing:
            raise RequestError.internal_error({"message": "buffer is locked by a merge dialog"})
        if path in self.buffers:
            return schema.ReadTextFileResponse(content=self.buffers[path])
        return schema.ReadTextFileResponse(content=Path(path).read_text())

    async def write_text_file(self, content: str, path: str, session_id: str,
                              **kwargs: Any) -> schema.WriteTextFileResponse | None:
        target = Path(path)
        self.writes.append((path, content, target.read_text() if target.exists() else None))
        self.buffers[path] = content
        target.write_text(content)  # the editor saves the buffer, as Zed does for agent edits
        return schema.WriteTextFileResponse()


@contextlib.asynccontextmanager
async def editor_agent(cwd: Path, env: dict[str, str], *flags: str,
                       fs: bool = True) -> AsyncIterator[tuple[Any, EditorClient]]:
    client = EditorClient()
    capabilities = schema.ClientCapabilities(
        fs=schema.FileSystemCapabilities(read_text_file=fs, write_text_file=fs))
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", "acp", "--sandbox", "none", *flags,
                                   env=env, cwd=cwd) as (conn, _process):
        answer = await conn.initialize(protocol_version=PROTOCOL_VERSION, client_capabilities=capabilities)
        assert answer.agent_capabilities.prompt_capabilities.image
        yield conn, client


def sent(server: ScriptedServer, index: int = -1) -> str:
    return json.dumps(server.requests[index].body["messages"])


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


async def test_the_model_reads_the_editors_unsaved_buffer(tmp_path, agent_env, scripted_server):
    notes = tmp_path / "notes.txt"
    notes.write_text("saved on disk\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("read it")))
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        client.buffers[str(notes)] = "typed but not saved\n"
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("what does notes.txt say?")])
    assert client.reads == [str(notes)]
    assert "typed but not saved" in sent(scripted_server) and "saved on disk" not in sent(scripted_server)


async def test_an_edit_is_written_by_the_editor_after_a_checkpoint_and_rewinds(tmp_path, agent_env, scripted_server):
    git(tmp_path, "init", "-q")
    notes = tmp_path / "notes.txt"
    notes.write_text("the colour red\n")
    git(tmp_path, "add", "notes.txt")
    git(tmp_path, "commit", "-qm", "init")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(tool_use("write_file", {"path": "new.txt", "content": "made by the agent\n"})),
        reply(text("fixed")))
    async with editor_agent(tmp_path, agent_env, "--mode", "accept-edits") as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("fix the spelling, add new.txt")])
    assert client.writes == [(str(notes), "the color red\n", "the colour red\n"),
                             (str(tmp_path / "new.txt"), "made by the agent\n", None)]
    assert "Edited notes.txt" in sent(scripted_server) and "Created new.txt" in sent(scripted_server)
    edit = client.of("tool_call")[1]
    diff = [u for u in client.of("tool_call_update") if u.tool_call_id == edit.tool_call_id and u.status][-1].content[0]
    assert (diff.path, diff.old_text, diff.new_text) == (str(notes), "the colour red\n", "the color red\n")
    assert [c.reason for c in list_checkpoints(tmp_path, sid)] == ["before changing notes.txt",
                                                                    "before changing new.txt"]
    rewind(tmp_path, sid, 1)
    assert notes.read_text() == "the colour red\n" and not (tmp_path / "new.txt").exists()


async def test_paths_outside_the_workspace_never_reach_the_editor(tmp_path, agent_env, scripted_server):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret.txt").write_text("outside\n")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "../secret.txt"}),
              tool_use("write_file", {"path": str(tmp_path / "planted.txt"), "content": "x"})),
        reply(text("could not")))
    async with editor_agent(workspace, agent_env, "--mode", "auto") as (conn, client):
        client.answers = ["allow_once", "allow_once"]  # even a person saying yes cannot widen the workspace
        sid = await new_session(conn, workspace)
        await conn.prompt(session_id=sid, prompt=[text_block("read the secret")])
    assert client.reads == [] and client.writes == [] and not (tmp_path / "planted.txt").exists()
    results = sent(scripted_server)
    assert results.count("outside_workspace") == 2 and "outside\\n" not in results


async def test_an_editor_that_fails_a_read_gives_the_model_a_tool_error(tmp_path, agent_env, scripted_server):
    (tmp_path / "notes.txt").write_text("hello\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("the editor refused")),
                        reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("now it says hello")))
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        client.failing = True
        first = await conn.prompt(session_id=sid, prompt=[text_block("read notes")])
        failed = json.loads(sent(scripted_server))[-1]["content"][0]
        client.failing = False
        second = await conn.prompt(session_id=sid, prompt=[text_block("try again")])
    assert first.stop_reason == second.stop_reason == "end_turn"
    assert failed["is_error"] and "editor_error" in failed["content"] and "merge dialog" in failed["content"]
    assert "hello" in json.dumps(json.loads(sent(scripted_server))[-1])


async def test_without_fs_capabilities_the_disk_is_used(tmp_path, agent_env, scripted_server):
    (tmp_path / "notes.txt").write_text("on disk\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("ok")))
    async with editor_agent(tmp_path, agent_env, fs=False) as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("read notes")])
    assert client.reads == [] and "on disk" in sent(scripted_server)


async def test_an_image_prompt_reaches_the_model_and_survives_a_load(tmp_path, agent_env, scripted_server):
    scripted_server.add(reply(text("a tiny png")), reply(text("still the png")))
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        await conn.prompt(session_id=sid, prompt=[text_block("what is this?"), image_block(PNG, "image/png")])
    first = [{k: v for k, v in block.items() if k != "cache_control"}
             for block in scripted_server.requests[0].body["messages"][0]["content"]]
    assert first == [{"type": "text", "text": "what is this?"},
                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        await conn.load_session(cwd=str(tmp_path), session_id=sid, mcp_servers=[])
        shown = [u.content for u in client.of("user_message_chunk")]
        assert [(c.type, getattr(c, "mime_type", None)) for c in shown] == [("text", None), ("image", "image/png")]
        await conn.prompt(session_id=sid, prompt=[text_block("and now?")])
    assert PNG in sent(scripted_server)


@pytest.mark.parametrize("mime, size, reason", [
    ("image/bmp", 64, "image/bmp is not an image type the model takes"),
    ("image/png", 5 * 1024 * 1024 + 1, "the model takes at most 5 MB"),
], ids=["bmp", "over-5-MB"])
async def test_an_image_the_model_cannot_take_is_an_invalid_params_error(tmp_path, agent_env, scripted_server,
                                                                         mime, size, reason):
    data = base64.b64encode(b"\0" * size).decode()
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        with pytest.raises(RequestError) as refused:
            await conn.prompt(session_id=sid, prompt=[text_block("look"), image_block(data, mime)])
    assert refused.value.code == -32602 and reason in json.dumps(refused.value.data)
    assert scripted_server.requests == []


async def test_cancelling_while_the_editor_holds_a_read_ends_the_turn(tmp_path, agent_env, scripted_server):
    (tmp_path / "notes.txt").write_text("hello\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "notes.txt"})), reply(text("after the cancel")))
    async with editor_agent(tmp_path, agent_env) as (conn, client):
        sid = await new_session(conn, tmp_path)
        client.holding = True  # the editor is stuck in a dialog and does not answer the read
        running = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=[text_block("read notes")]))
        await asyncio.wait_for(client.held.wait(), 60)
        await conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(running, 60)).stop_reason == "cancelled"
        client.holding = False
        assert (await conn.prompt(session_id=sid, prompt=[text_block("go on")])).stop_reason == "end_turn"
    assert "go on" in sent(scripted_server)


class LoopNotingEditor:
    """The connection's side of fs calls, noting which event loop ran each one."""

    def __init__(self, answer: bool = True) -> None:
        self.loops: list[Any] = []
        self.answer = answer

    async def read_text_file(self, session_id: str, path: str, **kwargs: Any) -> schema.ReadTextFileResponse:
        self.loops.append(asyncio.get_running_loop())
        if not self.answer:
            await asyncio.Event().wait()
        return schema.ReadTextFileResponse(content=f"buffer of {Path(path).name}")


def client_files(editor: LoopNotingEditor) -> Any:
    from termagent.acp.files import FsChoice

    return FsChoice(read=True, write=True).factory(editor)("session-1")


async def test_a_read_from_another_thread_runs_on_the_connections_loop(tmp_path):
    (tmp_path / "a.txt").write_text("disk\n")
    editor = LoopNotingEditor()
    files = client_files(editor)
    content = await asyncio.to_thread(asyncio.run, files.read(tmp_path, tmp_path / "a.txt", 1000))
    assert content.data == b"buffer of a.txt" and editor.loops == [asyncio.get_running_loop()]


async def test_an_editor_that_never_answers_is_a_tool_error(tmp_path, monkeypatch):
    from termagent.acp import files as acp_files
    from termagent.tools.errors import ToolError

    monkeypatch.setattr(acp_files, "FS_TIMEOUT_S", 0.05)  # the editor below never answers: always reached
    (tmp_path / "a.txt").write_text("disk\n")
    with pytest.raises(ToolError) as failed:
        await client_files(LoopNotingEditor(answer=False)).read(tmp_path, tmp_path / "a.txt", 1000)
    assert failed.value.type == "editor_timeout" and "did not answer" in failed.value.message
