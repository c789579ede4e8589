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
from termagent.mcp.tools import McpTool, describe

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
    await manager.aclose()
    return {"ready_s": ready_s, "call_ms": statistics.median(latencies) * 1000, "servers": costs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import subprocess

        subprocess.run(["git", "init", "-q", tmp], check=True)
        runs = [asyncio.run(one_run(Path(tmp), options.calls)) for _ in range(options.runs)]
    print(json.dumps({
        "all_servers_ready_s_median": round(statistics.median(r["ready_s"] for r in runs), 3),
        "tools_call_roundtrip_ms_median": round(statistics.median(r["call_ms"] for r in runs), 2),
        "servers": runs[-1]["servers"],
    }, indent=2))


if __name__ == "__main__":
    main()
