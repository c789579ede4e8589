"""An edit that would fail whatever the answer is refused before anyone is asked to approve it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from termagent.protocol import ApprovalRequested, Decision, ResolveApproval, Shutdown, SubmitTurn, ToolCallFinished, TurnFinished
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import eventually, make_session


async def test_doomed_edits_fail_without_an_approval_and_a_sound_one_still_asks(tmp_path: Path, scripted_server,
                                                                               monkeypatch):
    notes = tmp_path / "notes.txt"
    notes.write_text("the colour red\n")
    fix = {"path": "notes.txt", "old_string": "colour", "new_string": "color"}
    scripted_server.add(
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", {**fix, "old_string": "the colour blue"})),  # not in the file
        reply(text("That did not match.")),
        reply(tool_use("edit_file", fix)),  # the file changed after it was read
        reply(tool_use("read_file", {"path": "notes.txt"})),
        reply(tool_use("edit_file", fix)),  # read again: this one can work, so it asks
        reply(text("Fixed.")),
    )
    session, events = make_session(tmp_path, scripted_server, monkeypatch, interactive=True)
    serve = asyncio.get_running_loop().create_task(session.serve())
    session.start()

    def turns_done() -> int:
        return sum(isinstance(e, TurnFinished) for e in events)

    session.submit(SubmitTurn("fix the spelling"))
    assert await eventually(lambda: turns_done() == 1, 60)
    notes.write_text("the colour red, said someone else\n")
    session.submit(SubmitTurn("try again"))
    assert await eventually(lambda: any(isinstance(e, ApprovalRequested) for e in events), 60)
    asked = [e for e in events if isinstance(e, ApprovalRequested)]
    session.submit(ResolveApproval(asked[0].request_id, Decision.ALLOW_ONCE))
    assert await eventually(lambda: turns_done() == 2, 60)
    session.submit(Shutdown())
    await serve

    edits = [e for e in events if isinstance(e, ToolCallFinished) and e.name == "edit_file"]
    assert [(e.ok, e.error_type) for e in edits] == [(False, "no_match"), (False, "stale_read"), (True, None)]
    assert len(asked) == 1 and asked[0].call_id == edits[-1].call_id  # only the sound edit was put to the person
    assert notes.read_text() == "the color red, said someone else\n"
