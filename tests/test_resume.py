"""`--resume` rebuilds exactly what the model saw, after compactions and after a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termagent.model.request import without_cache_markers
from termagent.core.restore import describe_restore
from termagent.store.db import Store
from termagent.testing.scripted_server import fault, reply, tool_use
from tests.session_support import make_session
from tests.test_compaction import OVER, Summariser, assert_tool_pairs_intact, main_requests

TERMAGENT = str(Path(sys.executable).parent / "termagent")
SETTINGS = {"model": {"context_window": 100_000, "max_retries": 0}, "compaction": {"keep_recent_turns": 1}}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("a.py", "b.py"):
        (ws / name).write_text(f"# {name}\n" + "".join(f"ITEM_{n} = {n}\n" for n in range(120)))
    return ws


async def test_resume_after_compaction_sends_what_the_model_saw_before(workspace, scripted_server, monkeypatch):
    scripted_server.responder = Summariser()
    scripted_server.add(
        reply(tool_use("read_file", {"path": "a.py"})), reply("read a"),
        reply(tool_use("read_file", {"path": "b.py"})), reply("read b", usage=OVER),
        reply("LAST-ANSWER before the restart"),
    )
    store = Store()
    first, _ = make_session(workspace, scripted_server, monkeypatch, overrides=SETTINGS, store=store)
    for task in ("PIN-A: read a.py", "PIN-B: read b.py", "PIN-C: anything else?"):
        await first.run_turn(task)
    await first.close()
    before = main_requests(scripted_server)[-1]
    assert before["messages"][0]["content"][0]["text"].startswith("<session_state>")

    scripted_server.add(reply("resumed fine"))
    second, _ = make_session(workspace, scripted_server, monkeypatch, overrides=SETTINGS, store=store,
                             resume=first.session_id)
    summary = describe_restore(second.loop.history, store, first.session_id)
    await second.run_turn("PIN-D: carry on")
    await second.close()

    after = main_requests(scripted_server)[-1]
    assert after["system"] == before["system"] and after["tools"] == before["tools"]
    answer = {"role": "assistant", "content": [{"type": "text", "text": "LAST-ANSWER before the restart"}]}
    new_text = {"role": "user", "content": [{"type": "text", "text": "PIN-D: carry on"}]}
    assert without_cache_markers(after["messages"]) == without_cache_markers(before["messages"]) + [answer, new_text]
    assert "1 compaction" in summary and "state document present" in summary
    assert "warning: the stored history was compacted" in summary and "PIN-C" in summary


async def test_describe_restore_of_an_unanswered_request(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply("first answer"), fault(400))
    store = Store()
    first, _ = make_session(workspace, scripted_server, monkeypatch, overrides=SETTINGS, store=store)
    await first.run_turn("hello")
    outcome = await first.run_turn("this one fails")  # the API refuses it: no answer stored
    assert outcome.stop_reason == "api_error"
    await first.close()
    second, _ = make_session(workspace, scripted_server, monkeypatch, overrides=SETTINGS, store=store, resume="")
    summary = describe_restore(second.loop.history, store, second.session_id)
    assert summary.startswith(f"resumed session {first.session_id}: 3 live messages restored (3 stored in all), "
                              "0 compactions")
    assert "last request: 'this one fails'" in summary
    assert "warning: the last request was never answered" in summary
    assert "state document" not in summary and "compacted" not in summary


def kill_during_the_bash_call(workspace: Path, env: dict[str, str], store: Store) -> str:
    """Run a headless task and SIGKILL it while its bash call runs; return the session id."""
    proc = subprocess.Popen([TERMAGENT, "--mode", "accept-edits", "--allow", "bash", "--task", "TASK-PIN: inspect both files"], cwd=workspace,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            for record in store.sessions(str(workspace.resolve())):
                if '"bash"' in json.dumps(store.messages(record.id)) and (workspace / "bash-started").exists():
                    return record.id  # the command is running: kill it mid-call
            time.sleep(0.05)
        raise AssertionError(f"the bash call never started (exit {proc.poll()})")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.mark.e2e
async def test_resume_after_sigkill_mid_turn_after_a_compaction(
        workspace, scripted_server, monkeypatch, isolated_state):
    (isolated_state / "config" / "config.toml").write_text(
        "[model]\ncontext_window = 100000\nmax_retries = 0\n[compaction]\nkeep_recent_turns = 1\n")
    scripted_server.responder = Summariser()
    scripted_server.add(
        reply(tool_use("read_file", {"path": "a.py"})),
        reply(tool_use("read_file", {"path": "b.py"}), usage=OVER),
        reply(tool_use("bash", {"command": "touch bash-started; sleep 20"})),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_BASE_URL=scripted_server.url, ANTHROPIC_API_KEY="sk-e2e-0000000000",
               TERMAGENT_SANDBOX="none")
    store = Store()
    session_id = await asyncio.to_thread(kill_during_the_bash_call, workspace, env, store)
    before = main_requests(scripted_server)[-1]

    scripted_server.add(reply("picking up again"))
    session, _ = make_session(workspace, scripted_server, monkeypatch, store=store, resume="")
    summary = describe_restore(session.loop.history, store, session_id)
    await session.run_turn("go on")
    await session.close()

    assert "1 compaction" in summary and "state document present" in summary
    assert "ended while 1 tool call ran" in summary
    after = main_requests(scripted_server)[-1]
    assert_tool_pairs_intact(after)
    assert after["system"] == before["system"] and after["tools"] == before["tools"]
    assert without_cache_markers(after["messages"][: len(before["messages"])]) == without_cache_markers(before["messages"])
    assert "TASK-PIN: inspect both files" in after["messages"][0]["content"][0]["text"]
    killed, new_text = after["messages"][-1]["content"]
    assert killed["is_error"] and "previous termagent process ended" in killed["content"]
    assert new_text["text"] == "go on"
