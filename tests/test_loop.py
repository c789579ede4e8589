"""The agent loop end to end in-process: real HTTP/SSE, the real SDK, real files."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.protocol import (
    AssistantMessage,
    ModelRetrying,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from termagent.testing.scripted_server import cut, fault, reply, sse_error, text, tool_use, tool_use_raw
from tests.session_support import eventually, make_session, tool_results


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def add(a, b):\n    return a - b\n")
    return ws


async def headless(session, task="fix it", output="json"):
    out, err = io.StringIO(), io.StringIO()
    result = await run_headless(session, task, output, out, err)
    return result, out.getvalue(), err.getvalue()


async def test_multi_turn_edit_changes_the_file_and_reports(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(text("Reading."), tool_use("read_file", {"path": "app.py"})),
        reply(tool_use("edit_file", {"path": "app.py", "old_string": "a - b", "new_string": "a + b"})),
        reply(text("Fixed add().")),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"permissions": {"mode": "accept-edits"}})
    result, out, _ = await headless(session)
    assert result.exit_code == 0
    assert (workspace / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
    payload = json.loads(out)
    assert payload["result"] == "Fixed add()."
    assert payload["turns"] == 3 and payload["exit_reason"] == "done"
    assert [c["name"] for c in payload["tool_calls"]] == ["read_file", "edit_file"]
    assert all(c["ok"] for c in payload["tool_calls"])
    assert payload["usage"]["output_tokens"] > 0 and payload["denials"] == []
    # the model saw the file's numbered lines as the first tool result
    assert "return a - b" in tool_results(scripted_server.requests[1].body)[0]["content"]
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [e.call_id for e in started] == [e.call_id for e in finished]


async def test_requests_share_a_cached_stable_prefix(workspace, scripted_server, monkeypatch):
    (workspace / "AGENTS.md").write_text("Always use tabs.\n")
    scripted_server.add(reply(tool_use("read_file", {"path": "app.py"})), reply(tool_use("list_files", {})),
                        reply(text("done")))
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    await headless(session)
    bodies = [r.body for r in scripted_server.requests]
    assert len(bodies) == 3
    for body in bodies:
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert "Always use tabs." in body["system"][-1]["text"]
        assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["tools"] == bodies[0]["tools"]
    # older messages are sent exactly as before (no cache marker left behind)
    assert "cache_control" not in json.dumps(bodies[2]["messages"][:-1])
    assert bodies[2]["messages"][:2] == bodies[1]["messages"][:2]


async def test_overload_is_retried_without_running_a_tool_twice(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(tool_use("write_file", {"path": "new.txt", "content": "x\n"})),
        fault(529),
        fault(503, headers={"retry-after-ms": "1"}),
        reply(text("written")),
    )
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"permissions": {"mode": "accept-edits"}})
    result, out, _ = await headless(session)
    assert result.exit_code == 0
    assert len(scripted_server.requests) == 4
    assert sum(isinstance(e, ToolCallStarted) for e in events) == 1
    assert sum(isinstance(e, ModelRetrying) for e in events) == 2
    assert json.loads(out)["result"] == "written"


async def test_spend_limit_is_not_retried_and_exits_3(workspace, scripted_server, monkeypatch):
    body = {"type": "error", "error": {"type": "rate_limit_error",
                                       "message": "You have reached your spend limit for this month."}}
    scripted_server.add(fault(429, body=body))
    scripted_server.add_spare(reply(text("never")))
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    result, _, err = await headless(session)
    assert result.exit_code == 3
    assert len(scripted_server.requests) == 1
    assert "spend limit" in err


async def test_retries_give_up_with_exit_3_and_no_key_in_output(workspace, scripted_server, monkeypatch):
    scripted_server.add_spare(*[fault(500) for _ in range(10)])
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides={"model": {"max_retries": 2}})
    result, out, err = await headless(session)
    assert result.exit_code == 3 and result.exit_reason == "api_error"
    assert len(scripted_server.requests) == 3
    assert "sk-test-key" not in out + err


async def test_stream_cut_inside_tool_json_never_runs_the_partial_call(workspace, scripted_server, monkeypatch):
    write = reply(tool_use("write_file", {"path": "out.txt", "content": "complete content\n"}))
    scripted_server.add(cut(write, after_events=3), write, reply(text("ok")))
    session, events = make_session(workspace, scripted_server, monkeypatch,
                                   overrides={"permissions": {"mode": "accept-edits"}})
    result, _, _ = await headless(session)
    assert result.exit_code == 0
    assert (workspace / "out.txt").read_text() == "complete content\n"
    assert sum(isinstance(e, ToolCallStarted) for e in events) == 1
    assert any(isinstance(e, ModelRetrying) for e in events)


async def test_sse_error_event_is_retried(workspace, scripted_server, monkeypatch):
    scripted_server.add(sse_error(reply(text("partial answer that will be discarded")), after_events=2),
                        reply(text("clean answer")))
    session, events = make_session(workspace, scripted_server, monkeypatch)
    result, out, _ = await headless(session)
    assert json.loads(out)["result"] == "clean answer"
    assert [e.text for e in events if isinstance(e, AssistantMessage)] == ["clean answer"]


async def test_malformed_and_unknown_tool_calls_become_error_results(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(tool_use_raw("read_file", '{"path": app.py}'), tool_use("teleport", {"to": "mars"})),
        reply(text("I will stop.")),
    )
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    result, _, _ = await headless(session)
    assert result.exit_code == 0
    results = tool_results(scripted_server.requests[1].body)
    assert len(results) == 2 and all(r["is_error"] for r in results)
    assert json.loads(results[0]["content"])["error"]["type"] == "invalid_input"
    assert json.loads(results[1]["content"])["error"]["type"] == "unknown_tool"


async def test_max_tokens_inside_a_tool_call_is_not_executed(workspace, scripted_server, monkeypatch):
    scripted_server.add(
        reply(tool_use_raw("write_file", '{"path": "x.txt", "content": "trunc'), stop_reason="max_tokens"),
        reply(text("retrying smaller")),
    )
    session, _ = make_session(workspace, scripted_server, monkeypatch,
                              overrides={"permissions": {"mode": "accept-edits"}})
    await headless(session)
    assert not (workspace / "x.txt").exists()
    error = json.loads(tool_results(scripted_server.requests[1].body)[0]["content"])["error"]
    assert "max_tokens" in error["message"]


async def test_max_turns_stops_with_exit_1(workspace, scripted_server, monkeypatch):
    scripted_server.add_spare(*[reply(tool_use("list_files", {})) for _ in range(5)])
    session, events = make_session(workspace, scripted_server, monkeypatch, overrides={"limits": {"max_turns": 2}})
    result, out, _ = await headless(session)
    assert result.exit_code == 1
    assert len(scripted_server.requests) == 2
    assert "max turns" in json.loads(out)["detail"]
    assert json.loads(out)["exit_reason"] == "max_turns"


async def test_cost_cap_stops_with_exit_1(workspace, scripted_server, monkeypatch):
    big = {"input_tokens": 1_000_000, "output_tokens": 10}
    scripted_server.add(reply(tool_use("list_files", {}), usage=big))
    scripted_server.add_spare(reply(text("never")))
    session, _ = make_session(workspace, scripted_server, monkeypatch, overrides={"limits": {"max_cost_usd": 0.5}})
    result, out, _ = await headless(session)
    assert result.exit_code == 1
    assert json.loads(out)["cost_usd"] >= 0.5
    assert json.loads(out)["exit_reason"] == "max_cost"
    assert len(scripted_server.requests) == 1


async def test_headless_denies_what_would_ask_and_exits_4(workspace, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("write_file", {"path": "n.txt", "content": "x"})), reply(text("gave up")))
    session, _ = make_session(workspace, scripted_server, monkeypatch)  # mode ask, nobody to ask
    result, out, _ = await headless(session)
    payload = json.loads(out)
    assert result.exit_code == 4
    assert payload["denials"][0]["tool"] == "write_file"
    assert not (workspace / "n.txt").exists()
    error = json.loads(tool_results(scripted_server.requests[1].body)[0]["content"])["error"]
    assert error["type"] == "permission_denied"


async def test_interrupt_mid_stream_keeps_a_valid_history(workspace, scripted_server, monkeypatch):
    from termagent.protocol import Interrupt, Shutdown, SubmitTurn

    scripted_server.chunk_delay_s = 0.05
    scripted_server.add(reply(text("a long answer " * 40)), reply(text("second answer")))
    session, events = make_session(workspace, scripted_server, monkeypatch, interactive=True)
    session.start()
    server_task = asyncio.create_task(session.serve())
    session.submit(SubmitTurn("first"))
    await eventually(lambda: any(type(e).__name__ == "AssistantTextDelta" for e in events))
    session.submit(Interrupt())
    assert await eventually(lambda: any(isinstance(e, TurnFinished) for e in events), 30)
    scripted_server.chunk_delay_s = 0.0
    session.submit(SubmitTurn("second"))
    await eventually(lambda: any(isinstance(e, AssistantMessage) and e.text == "second answer" for e in events))
    session.submit(Shutdown())
    await asyncio.wait_for(server_task, 10)
    stops = [e.stop_reason for e in events if isinstance(e, TurnFinished)]
    assert stops[0] == "interrupted" and stops[-1] == "end_turn"
    roles = [m["role"] for m in scripted_server.requests[-1].body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "[interrupted by the user]" in json.dumps(scripted_server.requests[-1].body["messages"][1])
