"""MCP benchmarks: server start-up to ready (concurrent), tools/call round trip through the
manager's background loop, and the prefix cost of each server's tools. Medians over runs.

    .venv/bin/python scripts/bench_mcp.py [--runs N] [--calls N]

Uses the fixture server of the tests, plus mcp-server-git / mcp-server-time when installed
(scripts/install-mcp-test-servers.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.mcp.config import parse_server
from termagent.mcp.manager import McpManager
from termagent.mcp.attach import deferred_index
from termagent.mcp.tools import McpCall, McpDescribe, McpTool, describe

BIN = Path(sys.executable).parent
FIXTURE = str(ROOT / "tests" / "mcp_fixture_server.py")


def servers(workspace: Path) -> list:
    raw = {"fixture": {"command": sys.executable, "args": [FIXTURE, "normal"]}}
    if (BIN / "mcp-server-git").exists():
        raw["git"] = {"command": str(BIN / "mcp-server-git"), "args": ["--repository", str(workspace)]}
    if (BIN / "mcp-server-time").exists():
        raw["time"] = {"command": str(BIN / "mcp-server-time")}
    return [parse_server(name, entry, "bench") for name, entry in raw.items()]


async def one_run(workspace: Path, calls: int) -> dict:
    manager = McpManager(servers(workspace), workspace, 120.0)
    started = time.monotonic()
    manager.start()
    await manager.ready()
    ready_s = time.monotonic() - started
    latencies = []
    for _ in range(calls):
        t = time.monotonic()
        await manager.run("fixture", lambda c: c.call_tool("echo", {"text": "x"}))
        latencies.append(time.monotonic() - t)
    costs = {}
    for name, connection in manager.connections.items():
        specs = [McpTool(manager, describe(name, tool, set())).spec.to_api() for tool in connection.listing.tools]
        costs[name] = {"status": connection.status, "tools": len(specs),
                       "prefix_tokens_est": len(json.dumps(specs, ensure_ascii=False)) // 4}
    infos = [describe(name, tool, set()) for name, c in manager.connections.items() for tool in c.listing.tools]
    full = len(json.dumps([McpTool(manager, info).spec.to_api() for info in infos]))
    by_key = {(info.server, info.tool): info for info in infos}
    deferred = len(json.dumps([McpDescribe(by_key).spec.to_api(), McpCall(manager, by_key).spec.to_api()]))
    deferred += len(deferred_index(infos))
    await manager.aclose()
    return {"ready_s": ready_s, "call_ms": statistics.median(latencies) * 1000, "servers": costs,
            "prefix_bytes": {"all_tools": full, "deferred": deferred}}


async def raw_sdk_calls(calls: int) -> float:
    """The same echo call made straight through the SDK's own client: the baseline for our overhead."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=[FIXTURE, "normal"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        latencies = []
        for _ in range(calls):
            t = time.monotonic()
            await session.call_tool("echo", {"text": "x"})
            latencies.append(time.monotonic() - t)
    return statistics.median(latencies) * 1000


def session_start_s(workspace: Path, count: int) -> float:
    """open_session + start with `count` stdio servers: the servers start in the background, so
    this should not grow with them (the first request is what waits, bounded by start_timeout_s)."""
    import os

    from termagent.config import load_config
    from termagent.core.door import open_session, session_options
    from termagent.store.db import Store

    os.environ.setdefault("ANTHROPIC_API_KEY", "bench")
    entries = [{"command": sys.executable, "args": [FIXTURE, "normal"]} for _ in range(count)]
    servers = {f"s{n}": entry for n, entry in enumerate(entries)}
    config = load_config(workspace).with_overrides({"sandbox": {"backend": "none"}, "mcp": {"servers": servers}})

    async def build() -> float:
        started = time.monotonic()
        session = open_session(config, session_options(workspace, False), Store(workspace / f"s{count}.db"))
        session.start()
        took = time.monotonic() - started
        await session.close()
        return took

    return asyncio.run(build())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import subprocess

        subprocess.run(["git", "init", "-q", tmp], check=True)
        runs, raw = [], []
        for _ in range(options.runs):  # interleaved with the raw SDK baseline
            runs.append(asyncio.run(one_run(Path(tmp), options.calls)))
            raw.append(asyncio.run(raw_sdk_calls(options.calls)))
        with tempfile.TemporaryDirectory() as state:
            import os

            os.environ["TERMAGENT_STATE_DIR"] = state
            starts = {n: round(statistics.median(session_start_s(Path(tmp), n) for _ in range(options.runs)) * 1000, 1)
                      for n in (0, 1, 3)}
    ours, theirs = statistics.median(r["call_ms"] for r in runs), statistics.median(raw)
    print(json.dumps({
        "all_servers_ready_s_median": round(statistics.median(r["ready_s"] for r in runs), 3),
        "tools_call_roundtrip_ms_median": round(ours, 2),
        "raw_sdk_call_ms_median": round(theirs, 2),
        "overhead_over_raw_sdk_ms": round(ours - theirs, 2),
        "prefix_bytes_all_servers": runs[-1]["prefix_bytes"],
        "session_start_ms_median_by_server_count": starts,
        "servers": runs[-1]["servers"],
    }, indent=2))


if __name__ == "__main__":
    main()
