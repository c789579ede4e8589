"""Delegation: verbose work stays in the subagent; only a bounded summary comes back."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path

import pytest

from termagent.cli import main
from termagent.headless import run_headless
from termagent.protocol import SubagentFinished, SubagentStarted, Warning
from termagent.testing.scripted_server import fault, reply, text, tool_use
from tests.session_support import make_session, tool_results

SUITE = '''
def test_ok():
    assert True

def test_big_output():
    print("noise line " * 20000)
    assert 2 + 2 == 5
'''


class Router:
    """Answers each request from the queue of the agent whose system prompt it carries."""

    def __init__(self) -> None:
        self.queues: dict[str, list] = {}
        self.seen: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def add(self, agent: str, *steps) -> None:
        self.queues.setdefault(agent, []).extend(steps)

    def __call__(self, request):
        system = " ".join(block["text"] for block in request.body.get("system", []))
        agent = next((a for a in self.queues if a != "main" and f"You are {a}" in system), "main")
        with self._lock:
            self.seen.setdefault(agent, []).append(request.body)
            step = self.queues[agent].pop(0)
        return step(request) if callable(step) else step


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_suite.py").write_text(SUITE)
    return ws


async def headless(session):
    import io

    out = io.StringIO()
    result = await run_headless(session, "run the tests", "json", out, io.StringIO())
    return result, json.loads(out.getvalue())


@pytest.mark.docker
async def test_test_runner_keeps_200kb_of_output_out_of_the_parent(workspace, scripted_server, monkeypatch,
                                                                   docker_client):
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "test_runner", "task": "Run the tests in tests/."})))
    router.add("test_runner",
               reply(tool_use("bash", {"command": "python3 -m pytest -q -p no:cacheprovider tests", "timeout_s": 120})),
               reply(text("status: failed\nfindings:\n- tests/test_suite.py::test_big_output fails: "
                          "assert 4 == 5\nfiles:\n- tests/test_suite.py:7 — the failing assert\nnext steps:\n- fix it")))

    def read_slice(request):
        result = tool_results(request.body)[0]["content"]
        artifact = re.search(r"(art_[0-9a-f]+)", result).group(1)
        return reply(tool_use("read_artifact", {"id": artifact, "offset": 1, "limit": 5}))

    router.add("main", read_slice, reply(text("The suite has one failure.")))
    session, events = make_session(workspace, scripted_server, monkeypatch, allow=("bash(python3 -m pytest*)",),
                                   overrides={"sandbox": {"backend": "docker", "memory": "768m"}})
    result, payload = await headless(session)
    assert result.exit_code == 0, payload
    child_saw = json.dumps(router.seen["test_runner"][-1]["messages"])
    assert child_saw.count("noise line") > 1000  # the subagent really ran the suite and saw the flood
    summary = tool_results(router.seen["main"][1])[0]["content"]
    assert "status ok" in summary and "test_big_output" in summary and "art_" in summary
    assert "noise line" not in summary and len(summary) < 4000
    parent_growth = len(json.dumps(router.seen["main"][1]["messages"])) - len(json.dumps(router.seen["main"][0]["messages"]))
    assert parent_growth * 10 < len(child_saw)
    artifact = re.search(r"(art_[0-9a-f]+): bash", summary).group(1)
    full_log = session.store.get_artifact(artifact)
    assert full_log.count("noise line ") >= 20000  # the whole 200 KB log, not the capped view
    sliced = tool_results(router.seen["main"][2])[0]["content"]
    assert f"artifact {artifact}" in sliced and "more lines" in sliced
    assert payload["subagents"][0]["agent"] == "test_runner" and payload["subagents"][0]["usage"]["input_tokens"] > 0
    parent_usage = payload["usage"]["input_tokens"]
    assert parent_usage >= payload["subagents"][0]["usage"]["input_tokens"]  # rolled up into the session


async def test_two_delegations_in_one_turn_run_concurrently(workspace, scripted_server, monkeypatch):
    router = Router()
    scripted_server.responder = router
    scripted_server.chunk_delay_s = 0.02
    router.add("main", reply(tool_use("delegate", {"agent": "explorer", "task": "Where is test_ok?"}),
                             tool_use("delegate", {"agent": "explorer", "task": "Where is test_big_output?"})),
               reply(text("both answered")))
    router.add("explorer", reply(text("status: ok\nfindings:\n- " + "x" * 300)),
               reply(text("status: ok\nfindings:\n- " + "y" * 300)))
    session, events = make_session(workspace, scripted_server, monkeypatch)
    result, payload = await headless(session)
    order = [type(e).__name__ for e in events if isinstance(e, (SubagentStarted, SubagentFinished))]
    assert order == ["SubagentStarted", "SubagentStarted", "SubagentFinished", "SubagentFinished"]
    assert len(payload["subagents"]) == 2 and result.exit_code == 0


def test_sessions_show_prints_subagent_transcripts(workspace, scripted_server, monkeypatch, capsys):
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "explorer", "task": "Where is test_ok?"})),
               reply(text("found it")))
    router.add("explorer", reply(tool_use("grep", {"pattern": "def test_ok"})),
               reply(text("status: ok\nfindings:\n- tests/test_suite.py:2")))
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    asyncio.run(headless(session))
    assert main(["sessions", "show", session.session_id, "--subagents"]) == 0
    shown = capsys.readouterr().out
    assert "=== subagent explorer" in shown
    assert 'assistant → grep({"pattern": "def test_ok"})' in shown and "tests/test_suite.py:2" in shown


async def test_custom_agent_gets_only_its_tools_and_cannot_delegate(workspace, scripted_server, monkeypatch):
    agents = workspace / ".termagent" / "agents"
    agents.mkdir(parents=True)
    (agents / "reader.md").write_text("---\nname: reader\ndescription: reads one file\ntools: [read_file]\n"
                                      "max_turns: 4\n---\nYou are reader. Read what you are told.\n")
    (agents / "broken.md").write_text("name: broken\nno front matter here\n")
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "reader", "task": "read tests/test_suite.py"})),
               reply(text("ok")))
    router.add("reader",
               reply(tool_use("delegate", {"agent": "explorer", "task": "recurse"}),
                     tool_use("bash", {"command": "rm -rf /workspace"})),
               reply(text("status: partial\nfindings:\n- I only have read_file")))
    session, events = make_session(workspace, scripted_server, monkeypatch, trusted=True)
    result, payload = await headless(session)
    offered = [t["name"] for t in router.seen["reader"][0]["tools"]]
    assert offered == ["read_file"]
    errors = [json.loads(r["content"])["error"]["type"] for r in tool_results(router.seen["reader"][1])]
    assert errors == ["unknown_tool", "unknown_tool"]
    assert (workspace / "tests" / "test_suite.py").exists()
    enum = next(t for t in router.seen["main"][0]["tools"] if t["name"] == "delegate")["input_schema"]
    assert enum["properties"]["agent"]["enum"] == ["explorer", "log_analyst", "reader", "test_runner"]
    assert any(isinstance(e, Warning) and "broken.md" in e.message for e in events)


async def test_a_failing_subagent_returns_a_structured_failure(workspace, scripted_server, monkeypatch):
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "explorer", "task": "look"})),
               reply(text("the explorer failed; carrying on")))
    router.add("explorer", fault(400))
    session, _ = make_session(workspace, scripted_server, monkeypatch)
    result, payload = await headless(session)
    block = tool_results(router.seen["main"][1])[0]
    assert block["is_error"] and "status failed" in block["content"]
    assert payload["result"] == "the explorer failed; carrying on"
    assert payload["subagents"][0]["status"] == "failed"


async def test_subagent_turn_cap_is_enforced_by_the_harness(workspace, scripted_server, monkeypatch):
    agents = workspace / ".termagent" / "agents"
    agents.mkdir(parents=True)
    (agents / "looper.md").write_text("---\nname: looper\ndescription: loops\ntools: list_files\n"
                                      "max_turns: 3\n---\nYou are looper.\n")
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "looper", "task": "loop forever"})), reply(text("ok")))
    router.add("looper", *[reply(tool_use("list_files", {})) for _ in range(10)])
    session, _ = make_session(workspace, scripted_server, monkeypatch, trusted=True)
    await headless(session)
    assert len(router.seen["looper"]) == 3
    assert "max turns reached (3)" in tool_results(router.seen["main"][1])[0]["content"]


async def test_denial_inside_a_subagent_reaches_the_parent_with_its_reason(workspace, scripted_server, monkeypatch):
    router = Router()
    scripted_server.responder = router
    router.add("main", reply(tool_use("delegate", {"agent": "test_runner", "task": "run tests"})), reply(text("ok")))
    router.add("test_runner", reply(tool_use("bash", {"command": "pytest"})),
               reply(text("status: failed\nfindings:\n- bash was denied")))
    session, _ = make_session(workspace, scripted_server, monkeypatch)  # headless, mode ask: bash is denied
    result, payload = await headless(session)
    summary = tool_results(router.seen["main"][1])[0]["content"]
    assert "denied inside the subagent" in summary and "bash pytest" in summary
    assert result.exit_code == 4
