"""MCP configuration, the CLI around it, and the promise that MCP costs nothing when unused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from termagent.cli import main
from termagent.config import load_config
from termagent.mcp.config import load_servers, parse_server
from termagent.mcp.tools import tool_name
from termagent.testing.scripted_server import reply, text, tool_use
from tests.mcp_support import fixture


def test_env_header_and_url_variables_expand_from_the_environment(monkeypatch):
    monkeypatch.setenv("TOKEN", "s3cret")
    monkeypatch.delenv("MISSING", raising=False)
    http = parse_server("web", {"type": "http", "url": "https://h/${MISSING:-mcp}",
                                "headers": {"Authorization": "Bearer ${TOKEN}"}}, "t")
    assert http.url == "https://h/mcp" and dict(http.headers) == {"Authorization": "Bearer s3cret"}
    with pytest.raises(ValueError, match="MISSING is not set"):
        parse_server("x", {"command": "srv", "env": {"K": "${MISSING}"}}, "t")


@pytest.mark.parametrize("raw, why", [
    ({"command": ""}, "command"), ({"command": "x", "args": "a b"}, "args"), ({"url": "ftp://x"}, "http"),
    ({"command": "x", "bogus": 1}, "unknown keys"), ({"type": "sse", "url": "http://x"}, "not supported"),
])
def test_broken_entries_are_skipped_with_a_warning_naming_them(tmp_path, raw, why):
    found = load_servers(tmp_path, True, {"bad": raw, "good": {"command": "srv"}}, [])
    assert list(found.servers) == ["good"]
    assert len(found.warnings) == 1 and "'bad'" in found.warnings[0] and why in found.warnings[0]


def test_later_sources_win_and_user_servers_merge_by_name(tmp_path, monkeypatch):
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"a": {"command": "project-a"}}}))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"mcpServers": {"b": {"type": "http", "url": "http://127.0.0.1:1/mcp"}}}))
    found = load_servers(tmp_path, True, {"a": {"command": "user-a"}, "c": {"command": "user-c"}}, [str(extra)])
    assert {n: s.command or s.url for n, s in found.servers.items()} == {
        "a": "project-a", "c": "user-c", "b": "http://127.0.0.1:1/mcp"}
    config_dir = Path(os.environ["TERMAGENT_CONFIG_DIR"])
    (config_dir / "config.toml").write_text('[mcp.servers.u]\ncommand = "one"\ntimeout_s = 5\n')
    (tmp_path / ".termagent").mkdir()
    (tmp_path / ".termagent" / "config.toml").write_text('[mcp.servers.p]\ncommand = "two"\n')
    assert set(load_config(tmp_path).section("mcp")["servers"]) == {"u", "p"}


def test_tool_names_are_sanitised_unique_and_short():
    taken: set[str] = set()
    first = tool_name("my.server", "do thing!", taken)
    assert first == "mcp__my_server__do_thing_"
    long = tool_name("s", "x" * 100, taken)
    assert len(long) <= 64 and long != tool_name("s", "x" * 99 + "y", taken)
    taken.add(first)
    assert tool_name("my_server", "do_thing_", taken) != first


def test_import_and_help_never_load_the_mcp_sdk():
    code = ("import sys, termagent, termagent.cli, termagent.core.assembly, termagent.mcp.attach;"
            "termagent.cli.build_parser().format_help();"
            "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip() == "[]"


def test_mcp_add_list_remove(tmp_path, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    entry = fixture()
    (Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml").write_text("[mcp]\nstart_timeout_s = 120.0\n")
    assert main(["-C", str(ws), "mcp", "add", "fx", "--env", "A=b", "--", entry["command"], *entry["args"]]) == 0
    assert main(["-C", str(ws), "mcp", "add", "web", "--project", "--url", "http://127.0.0.1:9/mcp"]) == 0
    user = load_config(ws, include_project=False).section("mcp")["servers"]
    assert user["fx"]["command"] == entry["command"] and user["fx"]["env"] == {"A": "b"}
    assert json.loads((ws / ".mcp.json").read_text())["mcpServers"]["web"]["type"] == "http"
    capsys.readouterr()
    assert main(["-C", str(ws), "--trust-project", "mcp", "list"]) == 0
    listed = capsys.readouterr().out
    fx_row = next(line.split() for line in listed.splitlines() if line.startswith("fx "))
    web_row = next(line.split() for line in listed.splitlines() if line.startswith("web "))
    assert fx_row[1:4] == ["stdio", "ready", "7"] and int(fx_row[4]) > 50
    assert web_row[1:3] == ["http", "failed"]
    assert main(["-C", str(ws), "mcp", "remove", "fx"]) == 0
    assert main(["-C", str(ws), "mcp", "remove", "web"]) == 0
    assert "fx" not in load_config(ws, include_project=False).section("mcp")["servers"]
    assert json.loads((ws / ".mcp.json").read_text())["mcpServers"] == {}
    assert main(["-C", str(ws), "mcp", "remove", "fx"]) == 1


def test_headless_cli_with_mcp_config_and_no_mcp(tmp_path, scripted_server, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    servers = tmp_path / "servers.json"
    servers.write_text(json.dumps({"mcpServers": {"fx": fixture()}}))
    (Path(os.environ["TERMAGENT_CONFIG_DIR"]) / "config.toml").write_text("[mcp]\nstart_timeout_s = 120.0\n")
    env = {**os.environ, "ANTHROPIC_BASE_URL": scripted_server.url, "ANTHROPIC_API_KEY": "sk-test-key-123456789",
           "PYTHONPATH": str(Path(__file__).parents[1])}

    def termagent(*more: str) -> dict:
        base = ["-C", str(ws), "--sandbox", "none", "--output", "json", "--task", "go", "--mcp-config", str(servers)]
        done = subprocess.run([sys.executable, "-m", "termagent", *base, *more], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    scripted_server.add(reply(tool_use("mcp__fx__echo", {"text": "cli"})), reply(text("done")))
    payload = termagent()
    assert payload["mcp_servers"] == [{"name": "fx", "transport": "stdio", "status": "ready", "tools": 7}]
    assert payload["tool_calls"][0]["name"] == "mcp__fx__echo" and payload["tool_calls"][0]["ok"]
    scripted_server.add(reply(text("plain")))
    assert "mcp_servers" not in termagent("--no-mcp")
    assert not any(t["name"].startswith("mcp") for t in scripted_server.requests[-1].body["tools"])
