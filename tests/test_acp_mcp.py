"""MCP servers the editor passes with session/new are connected like the person's own: the SDK's
client side drives the real `termagent acp`, the servers are the PyPI time server and our fixture."""

from __future__ import annotations

import json
import sys

import pytest
from acp import schema, text_block

from termagent.testing.scripted_server import reply, text, tool_use
from tests.mcp_support import FIXTURE, binary
from tests.test_acp import agent_env, running_agent  # noqa: F401 - agent_env is a fixture

pytestmark = pytest.mark.e2e


def result_of(body: dict) -> str:
    return json.dumps([b for b in body["messages"][-1]["content"] if b.get("type") == "tool_result"])


async def test_the_editors_mcp_servers_give_the_model_their_tools(tmp_path, agent_env, scripted_server):
    servers = [schema.McpServerStdio(name="clock", command=binary("mcp-server-time"), args=[], env=[]),
               schema.McpServerStdio(name="my fixture", command=sys.executable, args=[FIXTURE, "normal"],
                                     env=[schema.EnvVariable(name="FIXTURE_FLAVOUR", value="editor")]),
               schema.SseMcpServer(type="sse", name="old", url="http://127.0.0.1:9/sse", headers=[])]
    scripted_server.add(reply(tool_use("mcp__clock__get_current_time", {"timezone": "UTC"})),
                        reply(tool_use("mcp__my-fixture__echo", {"text": "from the editor"})),
                        reply(tool_use("mcp__my-fixture__env_names", {})),
                        reply(text("done")))
    async with running_agent(tmp_path, agent_env) as (conn, client):
        client.answers = ["allow_once"] * 3
        sid = (await conn.new_session(cwd=str(tmp_path), mcp_servers=servers)).session_id
        assert (await conn.prompt(session_id=sid, prompt=[text_block("what time is it?")])).stop_reason == "end_turn"
    tools = {t["name"] for t in scripted_server.requests[0].body["tools"]}
    assert {"mcp__clock__get_current_time", "mcp__my-fixture__echo"} <= tools
    assert not any(name.startswith("mcp__old__") for name in tools)  # SSE: reported, not connected
    assert '\\"timezone\\": \\"UTC\\"' in result_of(scripted_server.requests[1].body)
    assert "from the editor" in result_of(scripted_server.requests[2].body)
    assert "FIXTURE_FLAVOUR" in result_of(scripted_server.requests[3].body)  # the env the editor gave the server
