"""MCP servers inside real sessions: real servers over stdio and HTTP, the scripted model
calling their tools, the policy and audit log in between, and failures that stay local."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path

import pytest

from termagent.headless import run_headless
from termagent.protocol import (
    ApprovalRequested,
    Interrupt,
    ResolveApproval,
    Shutdown,
    SubmitTurn,
    ToolCallStarted,
    TurnFinished,
    Warning,
)
from termagent.testing.scripted_server import reply, text, tool_use
from tests.mcp_support import binary, filesystem_server, fixture
from tests.session_support import eventually, make_session, tool_results


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    ws = tmp_path / "repo"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "tracked.txt").write_text("one\n")
    subprocess.run(["git", "-C", str(ws), "add", "tracked.txt"], check=True)
    subprocess.run(["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
                   check=True)
    (ws / "tracked.txt").write_text("two\n")
    (ws / "new_file.py").write_text("x = 1\n")
    return ws


def mcp(servers: dict, **more) -> dict:
    """Config overrides for these servers; start-up gets a generous bound (a loaded CI machine is slow)."""
    return {"mcp": {"servers": servers, "start_timeout_s": 120.0, **more}}


async def run(session, task="go"):
    out = io.StringIO()
    result = await run_headless(session, task, "json", out, io.StringIO())
    return result, json.loads(out.getvalue())


def first_result(server, index=1) -> dict:
    return tool_results(server.requests[index].body)[0]


async def test_git_server_tool_reports_the_real_status_and_is_audited(repo, scripted_server, monkeypatch):
    git = binary("mcp-server-git")
    scripted_server.add(reply(tool_use("mcp__git__git_status", {"repo_path": str(repo)})), reply(text("seen")))
    session, _ = make_session(repo, scripted_server, monkeypatch,
                              overrides=mcp({"git": {"command": git, "args": ["--repository", str(repo)]}}))
    result, payload = await run(session)
    assert result.exit_code == 0, payload
    tools = {t["name"]: t for t in scripted_server.requests[0].body["tools"]}
    assert "mcp__git__git_status" in tools and tools["mcp__git__git_status"]["input_schema"]["properties"]["repo_path"]
    status = first_result(scripted_server)["content"]
    expected = subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, text=True).stdout
    assert "new_file.py" in status and "tracked.txt" in status and expected.splitlines()[0] in status
    rows = session.store.audit(session.session_id)
    assert [(r["tool"], r["decision"], r["outcome"]) for r in rows] == [("mcp__git__git_status", "allow", "ok")]
    assert payload["mcp_servers"] == [{"name": "git", "transport": "stdio", "status": "ready", "tools": 12}]


async def test_a_deny_glob_refuses_every_tool_of_a_server(repo, scripted_server, monkeypatch):
    git = binary("mcp-server-git")
    scripted_server.add(reply(tool_use("mcp__git__git_status", {"repo_path": str(repo)})), reply(text("ok")))
    overrides = mcp({"git": {"command": git, "args": ["--repository", str(repo)]}})
    overrides["permissions"] = {"deny": ["mcp__git__*"], "mode": "auto"}
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=overrides)
    result, payload = await run(session)
    assert result.exit_code == 4
    error = json.loads(first_result(scripted_server)["content"])["error"]
    assert error["type"] == "permission_denied" and "mcp__git__*" in error["message"]
    assert session.store.audit(session.session_id)[0]["decision"] == "deny"


async def test_time_server_answers_through_the_model(repo, scripted_server, monkeypatch):
    time_bin = binary("mcp-server-time")
    scripted_server.add(reply(tool_use("mcp__time__get_current_time", {"timezone": "UTC"})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"time": {"command": time_bin}}))
    result, _ = await run(session)
    assert result.exit_code == 0
    assert json.loads(first_result(scripted_server)["content"])["timezone"] == "UTC"


async def test_destructive_filesystem_write_asks_and_writes_once_approved(repo, scripted_server, monkeypatch):
    fs = filesystem_server()
    target = repo / "from_mcp.txt"
    scripted_server.add(reply(tool_use("mcp__fs__write_file", {"path": str(target), "content": "written by mcp\n"})),
                        reply(text("wrote it")))
    session, events = make_session(repo, scripted_server, monkeypatch, interactive=True,
                                   overrides={**mcp({"fs": {"command": fs, "args": [str(repo)]}}),
                                              "permissions": {"mode": "auto"}})
    asked: list[ApprovalRequested] = []

    def approve(event) -> None:
        if isinstance(event, ApprovalRequested):
            asked.append(event)
            session.submit(ResolveApproval(event.request_id, "allow_once"))

    session.bus.listen(approve)
    session.start()
    serving = asyncio.create_task(session.serve())
    session.submit(SubmitTurn("write"))
    assert await eventually(lambda: len(scripted_server.requests) == 2 and not session.busy, 60)
    session.submit(Shutdown())
    await asyncio.wait_for(serving, 30)
    assert len(asked) == 1 and asked[0].destructive and asked[0].tool == "mcp__fs__write_file"
    assert target.read_text() == "written by mcp\n"


async def test_destructive_tool_is_refused_headless_even_in_auto_mode(repo, scripted_server, monkeypatch):
    fs = filesystem_server()
    scripted_server.add(reply(tool_use("mcp__fs__write_file", {"path": str(repo / "x.txt"), "content": "x"})),
                        reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch,
                              overrides={**mcp({"fs": {"command": fs, "args": [str(repo)]}}),
                                         "permissions": {"mode": "auto"}})
    result, _ = await run(session)
    assert result.exit_code == 4 and not (repo / "x.txt").exists()
    assert "destructive" in json.loads(first_result(scripted_server)["content"])["error"]["message"]


async def test_server_environment_holds_only_what_its_config_names(repo, scripted_server, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    scripted_server.add(reply(tool_use("mcp__fx__env_names", {})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch,
                              overrides=mcp({"fx": fixture(env={"FOO": "${SECRET_TOKEN}"})}))
    await run(session)
    names = set(first_result(scripted_server)["content"].split())
    assert "ANTHROPIC_API_KEY" not in names and "SECRET_TOKEN" not in names
    assert names <= {"FOO", "PATH", "HOME", "LANG", "LC_CTYPE"} and "FOO" in names and "PATH" in names


async def test_servers_that_exit_or_hang_at_start_warn_and_the_session_goes_on(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("list_files", {})), reply(text("still here")))
    session, events = make_session(repo, scripted_server, monkeypatch, overrides=mcp(
        {"dead": fixture("exit"), "stuck": fixture("hang")}, start_timeout_s=8.0))
    result, payload = await run(session)
    assert result.exit_code == 0 and payload["result"] == "still here"
    warnings = [e.message for e in events if isinstance(e, Warning)]
    dead = [w for w in warnings if "'dead'" in w]
    stuck = [w for w in warnings if "'stuck'" in w]
    assert len(dead) == 1 and "frobnicator" in dead[0]
    assert len(stuck) == 1 and "within 8s" in stuck[0] and "waiting forever" in stuck[0]
    assert "tracked.txt" in first_result(scripted_server)["content"]
    assert {s["name"]: s["status"] for s in payload["mcp_servers"]} == {"dead": "failed", "stuck": "failed"}


async def test_a_crash_mid_call_is_a_structured_error_and_no_restart(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp__fx__crash", {})), reply(tool_use("mcp__fx__echo", {"text": "a"})),
                        reply(text("done")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture()}))
    result, payload = await run(session)
    assert result.exit_code == 0
    crashed = first_result(scripted_server)
    assert crashed.get("is_error") and json.loads(crashed["content"])["error"]["type"] == "mcp_server_crashed"
    after = json.loads(first_result(scripted_server, 2)["content"])["error"]
    assert after["type"] == "mcp_server_unavailable" and "not restarted" in after["message"]
    assert payload["mcp_servers"][0]["status"] == "crashed"


async def test_is_error_and_big_outputs(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp__fx__fail", {})), reply(tool_use("mcp__fx__big", {})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture()}))
    await run(session)
    error = json.loads(first_result(scripted_server)["content"])["error"]
    assert error["type"] == "mcp_tool_error" and "Error executing tool fail" in error["message"] and not error["retryable"]
    big = first_result(scripted_server, 2)["content"]
    assert len(big) < 40_000 and "line 0" in big and "line 19999" in big and "read_artifact" in big
    artifact = big.rsplit("stored as ", 1)[1].split(":")[0]
    assert "line 12345\n" in session.store.get_artifact(artifact)


async def test_sixty_tools_are_deferred_behind_describe_and_call(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp_describe", {"server": "many", "tool": "tool_7"})),
                        reply(tool_use("mcp_call", {"server": "many", "tool": "tool_7", "arguments": {}})),
                        reply(tool_use("mcp_call", {"server": "many", "tool": "tool_8", "arguments": {}})),
                        reply(text("ok")))
    overrides = {**mcp({"many": fixture("many")}),  # auto would be downgraded without a sandbox: allow by rule
                 "permissions": {"allow": ["mcp__many__*"], "deny": ["mcp__many__tool_8"]}}
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=overrides)
    result, _ = await run(session)
    first = scripted_server.requests[0].body
    names = [t["name"] for t in first["tools"]]
    assert "mcp_describe" in names and "mcp_call" in names and not any(n.startswith("mcp__") for n in names)
    system = " ".join(block["text"] for block in first["system"])
    assert "many/tool_59: Numbered tool 59." in system
    assert json.loads(first_result(scripted_server)["content"])["tool"] == "tool_7"
    assert first_result(scripted_server, 2)["content"] == "tool 7"
    denied = json.loads(first_result(scripted_server, 3)["content"])["error"]
    assert denied["type"] == "permission_denied" and "mcp__many__tool_8" in denied["message"]
    assert result.exit_code == 4
    assert all(r.body["tools"] == first["tools"] and r.body["system"][:-1] == first["system"][:-1]
               for r in scripted_server.requests)


async def test_resources_tools_list_and_read(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp_list_resources", {})),
                        reply(tool_use("mcp_read_resource", {"server": "fx", "uri": "note://hello"})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture()}))
    await run(session)
    assert "note://hello" in first_result(scripted_server)["content"]
    assert first_result(scripted_server, 2)["content"] == "hello from a resource"


async def test_untrusted_project_mcp_json_is_ignored_with_a_warning(repo, scripted_server, monkeypatch):
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"fx": fixture()}}))
    scripted_server.add(reply(text("ok")))
    session, events = make_session(repo, scripted_server, monkeypatch, trusted=False)
    await run(session)
    assert not any(t["name"].startswith("mcp") for t in scripted_server.requests[0].body["tools"])
    assert any(isinstance(e, Warning) and ".mcp.json" in e.message and "untrusted" in e.message for e in events)
    assert session.mcp is None


async def test_trusted_project_mcp_json_starts_its_servers(repo, scripted_server, monkeypatch):
    (repo / ".mcp.json").write_text(json.dumps({"mcpServers": {"fx": fixture()}}))
    scripted_server.add(reply(tool_use("mcp__fx__echo", {"text": "p"})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, trusted=True)
    await run(session)
    assert first_result(scripted_server)["content"] == "echo: p"


async def test_streamable_http_server(repo, scripted_server, monkeypatch, unused_port):
    import socket
    import sys

    from tests.mcp_support import FIXTURE

    process = subprocess.Popen([sys.executable, FIXTURE, "http", str(unused_port)], stderr=subprocess.DEVNULL)
    try:
        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", unused_port)) == 0

        assert await eventually(listening, 30)
        scripted_server.add(reply(tool_use("mcp__web__echo", {"text": "over http"})), reply(text("ok")))
        monkeypatch.setenv("MCP_TEST_TOKEN", "t0ken")
        session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"web": {
            "type": "http", "url": f"http://127.0.0.1:{unused_port}/mcp",
            "headers": {"Authorization": "Bearer ${MCP_TEST_TOKEN}"}}}))
        result, payload = await run(session)
        assert result.exit_code == 0
        assert first_result(scripted_server)["content"] == "echo: over http"
        assert payload["mcp_servers"][0]["transport"] == "http"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_custom_agent_tools_may_name_mcp_tools_by_glob(repo, scripted_server, monkeypatch):
    agents = repo / ".termagent" / "agents"
    agents.mkdir(parents=True)
    (agents / "echoer.md").write_text("---\nname: echoer\ndescription: echoes\ntools: [read_file, mcp__fx__e*]\n"
                                      "---\nYou are echoer. Echo what you are told.\n")
    scripted_server.add(reply(tool_use("delegate", {"agent": "echoer", "task": "echo sub"})),
                        reply(tool_use("mcp__fx__echo", {"text": "sub"})),
                        reply(text("status: ok\nfindings:\n- echoed")), reply(text("done")))
    session, events = make_session(repo, scripted_server, monkeypatch, trusted=True, overrides=mcp({"fx": fixture()}))
    result, _ = await run(session)
    child = scripted_server.requests[1].body
    assert sorted(t["name"] for t in child["tools"]) == ["mcp__fx__echo", "mcp__fx__env_names", "read_file"]
    assert first_result(scripted_server, 2)["content"] == "echo: sub"
    assert not any(isinstance(e, Warning) and "echoer" in e.message for e in events)


async def test_a_slow_call_times_out_as_a_retryable_error(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp__fx__sleep", {"seconds": 120})), reply(tool_use("mcp__fx__echo", {"text": "x"})),
                        reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture(timeout_s=3)}))
    await run(session)
    error = json.loads(first_result(scripted_server)["content"])["error"]
    assert error["type"] == "timeout" and error["retryable"] and "3s" in error["message"]
    assert first_result(scripted_server, 2)["content"] == "echo: x"


async def test_an_interrupt_cancels_the_call_and_the_server_stays_usable(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp__fx__sleep", {"seconds": 600})),
                        reply(tool_use("mcp__fx__echo", {"text": "after"})), reply(text("fine")))
    session, events = make_session(repo, scripted_server, monkeypatch, interactive=True,
                                   overrides=mcp({"fx": fixture()}))
    session.start()
    serving = asyncio.create_task(session.serve())
    session.submit(SubmitTurn("sleep"))
    assert await eventually(lambda: any(isinstance(e, ToolCallStarted) for e in events), 60)
    session.submit(Interrupt())
    assert await eventually(lambda: any(isinstance(e, TurnFinished) for e in events), 30)
    session.submit(SubmitTurn("again"))
    assert await eventually(lambda: len(scripted_server.requests) == 3 and not session.busy, 60)
    session.submit(Shutdown())
    await asyncio.wait_for(serving, 30)
    assert first_result(scripted_server, 2)["content"] == "echo: after"


@pytest.mark.docker
async def test_sandboxed_server_runs_in_its_own_container_without_network(repo, scripted_server, monkeypatch,
                                                                          docker_client):
    import shutil

    from tests.mcp_support import FIXTURE

    shutil.copy(Path(FIXTURE).with_name("mcp_stdlib_server.py"), repo / "srv.py")
    monkeypatch.setenv("SANDBOX_TOKEN", "tok-123")
    scripted_server.add(reply(tool_use("mcp__boxed__where", {})), reply(text("ok")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"boxed": {
        "command": "python3", "args": ["/workspace/srv.py"], "sandbox": True, "env": {"SANDBOX_TOKEN": "${SANDBOX_TOKEN}"}}},
        start_timeout_s=120.0))
    result, payload = await run(session)
    assert result.exit_code == 0, payload
    seen = json.loads(first_result(scripted_server)["content"])
    assert seen["cwd"] == "/workspace" and seen["network"] == "none" and seen["dockerenv"]
    assert seen["token"] == "tok-123" and "ANTHROPIC_API_KEY" not in seen["env"]
    mine = docker_client.containers.list(all=True, filters={"label": "termagent.mcp-server=boxed"})
    assert all(session.session_id not in (c.labels or {}).values() for c in mine)


async def test_server_prompts_become_slash_commands(repo, scripted_server, monkeypatch):
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture()}))
    await session.loop.before_request[0](session.loop)  # what the first model request does
    assert session.mcp.prompt_commands() == {"mcp__fx__review": "Ask for a review of one file."}
    assert await session.mcp.expand_prompt("/mcp__fx__review", "src/a.py") == "Please review src/a.py carefully."
    with pytest.raises(ValueError, match="no MCP prompt"):
        await session.mcp.expand_prompt("/mcp__fx__nope", "")
    await session.close("done")
    with pytest.raises(ValueError, match="shut down"):
        await session.mcp.expand_prompt("/mcp__fx__review", "x")


async def test_images_reach_the_model_as_image_blocks(repo, scripted_server, monkeypatch):
    scripted_server.add(reply(tool_use("mcp__fx__picture", {})), reply(text("a dot")))
    session, _ = make_session(repo, scripted_server, monkeypatch, overrides=mcp({"fx": fixture()}))
    await run(session)
    content = first_result(scripted_server)["content"]
    assert content[0]["type"] == "text" and "a red dot" in content[0]["text"]
    assert content[1]["type"] == "image" and content[1]["source"]["media_type"] == "image/png"
    assert content[1]["source"]["data"].startswith("iVBORw0KGgo")


async def test_a_prompt_command_typed_in_the_app_becomes_the_turn(repo, scripted_server, monkeypatch):
    from tests.test_tui import idle, send, shows, tui

    scripted_server.add(reply(text("Reviewed.")))
    session, _ = make_session(repo, scripted_server, monkeypatch, interactive=True, overrides=mcp({"fx": fixture()}))
    assert await eventually(lambda: bool(session.mcp_prompts()), 120)  # the server has answered
    app = tui(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await send(pilot, "/mcp")
        await shows(pilot, "/mcp__fx__review")
        await send(pilot, "/mcp__fx__review src/a.py")
        await idle(pilot, app)
        await shows(pilot, "Reviewed.")
    [request] = scripted_server.requests[:1]
    assert request.body["messages"][0]["content"][0]["text"] == "Please review src/a.py carefully."
