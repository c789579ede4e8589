"""OpenTelemetry export against a real OTLP/HTTP receiver, from a real scripted session."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.testing.scripted_server import fault, reply, text, tool_use
from tests.otlp_receiver import OTLPReceiver, attributes
from tests.session_support import make_session
from tests.test_subagents import Router

TASK = "summarise notes.txt for me, secret-word-zebra"
SLOW_FLUSH = {"telemetry": {"flush_timeout_s": 60.0}}  # a loaded machine must not lose the export


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    with OTLPReceiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
        monkeypatch.delenv("TRACEPARENT", raising=False)
        yield running


def script(server) -> Router:
    router = Router()
    server.responder = router
    router.add("main", fault(529), reply(tool_use("read_file", {"path": "notes.txt"})),
               reply(tool_use("write_file", {"path": "out.txt", "content": "x"})),
               reply(tool_use("delegate", {"agent": "test_runner", "task": "run the tests"})),
               reply(text("All done.")))
    router.add("test_runner", reply(tool_use("bash", {"command": "echo TP=$TRACEPARENT"})),
               reply(text("status: ok\nfindings: none")))
    return router


async def run(workspace: Path, server, monkeypatch, **options):
    (workspace / "notes.txt").write_text("remember the milk\n")
    session, _ = make_session(workspace, server, monkeypatch, **options)
    out = io.StringIO()
    result = await run_headless(session, TASK, "json", out, io.StringIO())
    return result, json.loads(out.getvalue())


def tree(spans) -> dict[str, list]:
    children: dict[str, list] = {}
    for span in spans:
        children.setdefault(span.parent_span_id.hex(), []).append(span)
    return children


async def test_a_session_exports_its_span_tree_metrics_and_no_prompt_text(tmp_path, scripted_server, monkeypatch,
                                                                           receiver):
    script(scripted_server)
    result, payload = await run(tmp_path, scripted_server, monkeypatch, overrides=SLOW_FLUSH,
                                allow=("bash(echo *)",))
    assert result.exit_code == 4  # the write was denied: telemetry changes nothing about the outcome
    spans = receiver.received.spans
    by_parent = tree(spans)
    [session] = receiver.spans_named("invoke_agent termagent")
    assert attributes(session.attributes)["gen_ai.conversation.id"] == payload["session_id"]
    assert attributes(session.attributes)["termagent.exit_reason"] == "denied"
    [turn] = by_parent[session.span_id.hex()]
    assert turn.name == "turn"
    under_turn = sorted(span.name for span in by_parent[turn.span_id.hex()])
    assert under_turn.count("chat claude-sonnet-4-6") == 4
    assert {"execute_tool read_file", "execute_tool write_file", "execute_tool delegate"} <= set(under_turn)

    [delegate] = receiver.spans_named("execute_tool delegate")
    [child] = by_parent[delegate.span_id.hex()]
    assert child.name == "invoke_agent test_runner"
    child_turn = by_parent[child.span_id.hex()][0]
    assert "execute_tool bash" in {span.name for span in by_parent[child_turn.span_id.hex()]}

    [write] = receiver.spans_named("execute_tool write_file")
    write_attributes = attributes(write.attributes)
    assert write_attributes["termagent.decision"] == "deny" and write_attributes["error.type"] == "permission_denied"
    assert write_attributes["gen_ai.tool.name"] == "write_file"

    chats = receiver.spans_named("chat ")
    assert sum(attributes(s.attributes)["gen_ai.usage.input_tokens"] for s in chats) == payload["usage"]["input_tokens"]
    assert sum(attributes(s.attributes)["gen_ai.usage.output_tokens"] for s in chats) == \
        payload["usage"]["output_tokens"]
    assert any(event.name == "retry" for s in chats for event in s.events)  # the 529 became a retry event

    assert sum(p.as_int for p in receiver.metric("termagent.denials")) == 1
    assert sum(p.as_int for p in receiver.metric("termagent.model.retries")) == 1
    assert sum(p.as_int for p in receiver.metric("termagent.tool.calls")) == 4
    assert receiver.received.resources[0]["service.name"] == "termagent"

    everything = "".join(str(attributes(s.attributes)) + str([e.name for e in s.events]) for s in spans)
    assert "zebra" not in everything and "remember the milk" not in everything


async def test_the_sandbox_command_sees_its_own_tool_calls_traceparent(tmp_path, scripted_server, monkeypatch,
                                                                       receiver):
    router = script(scripted_server)
    await run(tmp_path, scripted_server, monkeypatch, overrides=SLOW_FLUSH, allow=("bash(echo *)",))
    [bash] = receiver.spans_named("execute_tool bash")
    seen = json.dumps(router.seen["test_runner"][1])  # the test runner's second request carries the bash result
    assert f"TP=00-{bash.trace_id.hex()}-{bash.span_id.hex()}-0" in seen


async def test_a_callers_traceparent_makes_the_session_part_of_its_trace(tmp_path, scripted_server, monkeypatch,
                                                                        receiver):
    script(scripted_server)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    monkeypatch.setenv("TRACEPARENT", f"00-{caller_trace}-{caller_span}-01")
    await run(tmp_path, scripted_server, monkeypatch, overrides=SLOW_FLUSH)
    [session] = receiver.spans_named("invoke_agent termagent")
    assert session.trace_id.hex() == caller_trace and session.parent_span_id.hex() == caller_span


async def test_log_content_records_prompt_and_tool_input(tmp_path, scripted_server, monkeypatch, receiver):
    script(scripted_server)
    await run(tmp_path, scripted_server, monkeypatch,
              overrides={"telemetry": {"flush_timeout_s": 60.0, "log_content": True}})
    [turn] = [s for s in receiver.spans_named("turn") if attributes(s.attributes)["gen_ai.agent.name"] == "termagent"]
    assert "zebra" in attributes(turn.attributes)["termagent.prompt"]
    [read] = receiver.spans_named("execute_tool read_file")
    assert "notes.txt" in attributes(read.attributes)["gen_ai.tool.call.arguments"]


async def test_a_dead_collector_changes_nothing_about_the_session(tmp_path, scripted_server, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", dead)
    script(scripted_server)
    result, payload = await run(tmp_path, scripted_server, monkeypatch)
    assert result.exit_code == 4 and payload["result"] == "All done."


def test_telemetry_off_imports_nothing_of_opentelemetry(tmp_path):
    code = ("import sys; from termagent.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "from termagent.config import load_config; from termagent import telemetry\n"
            "assert not telemetry.wanted(load_config(None, include_project=False))\n"
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TERMAGENT_CONFIG_DIR": str(tmp_path)}
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           cwd=Path(__file__).resolve().parent.parent, check=True)
    assert shown.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.docker
async def test_traceparent_reaches_a_command_in_the_docker_sandbox(tmp_path, scripted_server, monkeypatch, receiver,
                                                                   docker_client):
    router = script(scripted_server)
    (tmp_path / "ws").mkdir()
    await run(tmp_path / "ws", scripted_server, monkeypatch, allow=("bash(echo *)",),
              overrides={**SLOW_FLUSH, "sandbox": {"backend": "docker", "memory": "512m"}})
    [bash] = receiver.spans_named("execute_tool bash")
    seen = json.dumps(router.seen["test_runner"][1])
    assert f"TP=00-{bash.trace_id.hex()}-{bash.span_id.hex()}-0" in seen


async def test_a_stored_session_exports_as_otlp_json_after_the_fact(tmp_path, scripted_server, monkeypatch):
    from termagent.store.db import Store
    from termagent.telemetry.replay import write_session_trace

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)  # the session itself exports nothing
    script(scripted_server)
    store = Store()
    result, payload = await run(tmp_path, scripted_server, monkeypatch, store=store)
    target = tmp_path / "trace.json"
    count = write_session_trace(store, payload["session_id"], target)
    spans = [span for rs in json.loads(target.read_text())["resourceSpans"]
             for scope in rs["scopeSpans"] for span in scope["spans"]]
    assert count == len(spans) >= 8
    names = {span["name"] for span in spans}
    assert {"invoke_agent termagent", "turn", "execute_tool write_file", "invoke_agent test_runner"} <= names
    ids = {span["spanId"] for span in spans}
    assert all(len(span["traceId"]) == 32 and len(span["spanId"]) == 16 for span in spans)  # hex, as OTLP/JSON wants
    assert all(span.get("parentSpanId", "") in ids | {""} for span in spans)


def test_trace_command_writes_a_stored_sessions_trace(tmp_path, scripted_server, monkeypatch, capsys):
    import asyncio

    from termagent.cli import main
    from termagent.store.db import Store

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    script(scripted_server)
    store = Store()
    _, payload = asyncio.run(run(tmp_path, scripted_server, monkeypatch, store=store))
    store.close()
    target = tmp_path / "out.json"
    assert main(["-C", str(tmp_path), "trace", payload["session_id"], "--output", "otlp-json", str(target)]) == 0
    assert "spans of session" in capsys.readouterr().err
    assert json.loads(target.read_text())["resourceSpans"]
    assert main(["-C", str(tmp_path), "trace", "nosuchsession", str(target)]) == 2
