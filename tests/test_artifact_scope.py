"""An artifact belongs to the session tree that made it: another project's session gets
a structured not-found error for its id, while the owner (and its subagents) read it."""

from __future__ import annotations

import io
import re
from pathlib import Path

from termagent.headless import run_headless
from termagent.store.db import Store
from termagent.testing.scripted_server import reply, text, tool_use
from tests.session_support import make_session, tool_results

FLOOD = "seq -f 'SECRET-A-LINE %g' 4000"


async def test_another_workspace_cannot_read_the_artifact(tmp_path: Path, scripted_server, monkeypatch) -> None:
    store = Store()
    first_ws, second_ws = tmp_path / "project-a", tmp_path / "project-b"
    first_ws.mkdir()
    second_ws.mkdir()
    found: list[str] = []

    def read_own(request):
        found.append(re.search(r"(art_[0-9a-f]+)", tool_results(request.body)[0]["content"]).group(1))
        return reply(tool_use("read_artifact", {"id": found[0], "limit": 3}))

    steps = [reply(tool_use("bash", {"command": FLOOD})), read_own, reply(text("done")),
             lambda request: reply(tool_use("read_artifact", {"id": found[0]})), reply(text("done"))]
    scripted_server.responder = lambda request: (lambda step: step(request) if callable(step) else step)(steps.pop(0))
    first, _ = make_session(first_ws, scripted_server, monkeypatch, allow=("bash(seq*)",), store=store)
    assert (await run_headless(first, "make a log", "json", io.StringIO(), io.StringIO())).exit_code == 0
    own = tool_results(scripted_server.requests[2].body)[0]
    assert "SECRET-A-LINE" in own["content"] and not own.get("is_error")

    second, _ = make_session(second_ws, scripted_server, monkeypatch, store=store)
    await run_headless(second, "peek", "json", io.StringIO(), io.StringIO())
    foreign = tool_results(scripted_server.requests[-1].body)[0]
    assert foreign.get("is_error") and "no artifact" in foreign["content"]
    assert "SECRET-A-LINE" not in foreign["content"]


def test_a_session_tree_shares_its_artifacts(tmp_path: Path) -> None:
    store = Store()
    parent = store.create_session(str(tmp_path), "m")
    child = store.create_session(str(tmp_path), "m", agent="explorer", parent_id=parent)
    grandchild = store.create_session(str(tmp_path), "m", agent="explorer", parent_id=child)
    stranger = store.create_session(str(tmp_path), "m")
    made = store.put_artifact(grandchild, "bash", "log")
    assert [store.get_artifact(made, reader) for reader in (parent, child, grandchild)] == ["log"] * 3
    assert store.get_artifact(made, stranger) is None
    assert store.get_artifact(store.put_artifact(parent, "bash", "up"), grandchild) == "up"
