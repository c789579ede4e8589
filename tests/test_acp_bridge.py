"""The ACP bridge in-process, on a real session and the scripted model server, where the
editor's pace must be controlled: its updates are forwarded in order, so an editor slow to
take one leaves the bridge behind the session."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from termagent.acp.bridge import SessionBridge
from termagent.acp.files import WriteWitness
from termagent.protocol import Shutdown
from termagent.testing.scripted_server import reply, text, tool_use
from termagent.tools.fileaccess import local_files
from tests.session_support import eventually, make_session
from tests.test_acp import RecordingClient


class SlowEditor(RecordingClient):
    """Takes its first agent message chunk only once the gate opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if update.session_update == "agent_message_chunk" and not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        await super().session_update(session_id, update, **kwargs)


async def test_an_edit_that_ran_before_the_bridge_caught_up_still_shows_what_it_replaced(
        tmp_path: Path, scripted_server, monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("the colour red\n")
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(text("Fixing the spelling."),
              tool_use("edit_file", {"path": "notes.txt", "old_string": "colour", "new_string": "color"})),
        reply(text("Done.")),
    )
    witness = WriteWitness()
    session, _ = make_session(tmp_path, scripted_server, monkeypatch, files=witness.wrap(local_files),
                              overrides={"permissions": {"mode": "accept-edits"}})
    editor = SlowEditor()
    bridge = SessionBridge(session, editor, witness)
    await bridge.start(replay=False)
    turn = asyncio.create_task(bridge.prompt("fix the spelling in notes.txt"))
    await asyncio.wait_for(editor.waiting.wait(), 60)
    assert await eventually(lambda: notes.read_text() == "the color red\n", 60)  # the edit ran; the editor lags
    editor.gate.set()
    assert await asyncio.wait_for(turn, 60) == "end_turn"
    session.submit(Shutdown())
    await bridge.close()
    edit = [u for u in editor.of("tool_call") if u.kind == "edit"][0]
    done = [u for u in editor.of("tool_call_update") if u.tool_call_id == edit.tool_call_id and u.status]
    diff = done[-1].content[0]
    assert done[-1].status == "completed" and diff.type == "diff"
    assert (diff.old_text, diff.new_text) == ("the colour red\n", "the color red\n")


async def test_a_burst_of_text_reaches_a_slow_editor_whole_in_order_and_in_a_few_updates(
        tmp_path: Path, scripted_server, monkeypatch):
    (tmp_path / "notes.txt").write_text("notes\n")
    scripted_server.pieces = 40
    burst = "".join(f"word{n} " for n in range(40))
    scripted_server.add(reply(text(burst), tool_use("read_file", {"path": "notes.txt"})), reply(text("Done.")))
    witness = WriteWitness()
    session, _ = make_session(tmp_path, scripted_server, monkeypatch, files=witness.wrap(local_files))
    editor = SlowEditor()
    bridge = SessionBridge(session, editor, witness)
    await bridge.start(replay=False)
    turn = asyncio.create_task(bridge.prompt("read notes.txt"))
    await asyncio.wait_for(editor.waiting.wait(), 60)
    assert await eventually(lambda: len(scripted_server.requests) == 2, 60)  # the burst is all queued behind
    editor.gate.set()
    assert await asyncio.wait_for(turn, 60) == "end_turn"
    session.submit(Shutdown())
    await bridge.close()
    kinds = [u.session_update for u in editor.updates]
    call = kinds.index("tool_call")
    before = [u.content.text for u in editor.updates[:call] if u.session_update == "agent_message_chunk"]
    assert "".join(before) == burst and 2 <= len(before) < 10
    assert editor.message_text() == burst + "Done."
