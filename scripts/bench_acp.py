"""ACP benchmark: how soon an editor sees the agent's first words, and what each streamed
update costs on the way, against headless stream-json.

For `--runs` interleaved repetitions against the scripted model server (no API key, host
sandbox) it reports median milliseconds for
  - acp, served by the warm worker and in its own process (`TERMAGENT_WORKER=0`, as the
    first session of an editor with no worker running is): `initialize` sent -> first
    `agent_message_chunk` of a one-turn prompt (initialize, session/new and session/prompt
    in between), process spawn -> that chunk, and `initialize` sent -> answered;
  - headless `--output stream-json` through the worker: process spawn -> first event
    line, and -> first `assistant_text_delta` line (the moment the ACP chunk stands for);
  - per delta: first to last text of a reply the server streams in DELTAS deltas at once,
    divided by DELTAS - 1 (the pipeline's own pace: SDK, core events, then the ACP bridge
    and JSON-RPC, or the stream-json printer);
and the medians of the paired ratios ACP (worker) / headless, spawn to first text and per delta.

    .venv/bin/python scripts/bench_acp.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acp import PROTOCOL_VERSION, spawn_agent_process, text_block

from scripts.bench_vs_peer import stop_workers, wait_warmed
from termagent.testing.scripted_server import ScriptedServer, reply, text


DELTAS = 400  # the reply streams in this many text deltas; the stream's pace is the per-update cost
REPLY = "word " * DELTAS


class Chunks:
    """A client that notes when the first and the last agent message chunk arrive."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if update.session_update == "agent_message_chunk":
            self.last = time.perf_counter()
            self.first = self.first or self.last

    async def request_permission(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the benchmark prompt needs no permission")


def _env(server: ScriptedServer, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-bench-000000000000", TERMAGENT_SANDBOX="none",
               TERMAGENT_STATE_DIR=str(state / "state"), TERMAGENT_CONFIG_DIR=str(state / "config"),
               PYTHONPATH=str(ROOT))
    return env


async def acp_run(server: ScriptedServer, workspace: Path, env: dict[str, str]) -> tuple[float, ...]:
    server.add(reply(text(REPLY)))
    client = Chunks()
    spawned = time.perf_counter()
    async with spawn_agent_process(client, sys.executable, "-m", "termagent", "acp", env=env,
                                   cwd=workspace) as (conn, _process):
        sent = time.perf_counter()
        await conn.initialize(protocol_version=PROTOCOL_VERSION)
        answered = time.perf_counter()
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("say hello")])
    assert client.first is not None
    return ((client.first - sent) * 1000, (client.first - spawned) * 1000, (answered - sent) * 1000,
            (client.last - client.first) * 1000 / (DELTAS - 1))


async def headless_run(server: ScriptedServer, workspace: Path, env: dict[str, str]) -> tuple[float, ...]:
    server.add(reply(text(REPLY)))
    spawned = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "termagent", "--output", "stream-json", "--task", "say hello", cwd=workspace, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    first_event = first_text = None
    last_text = 0.0
    async for line in process.stdout:
        now = time.perf_counter()
        first_event = first_event or now
        if json.loads(line).get("type") == "assistant_text_delta":
            first_text, last_text = first_text or now, now
    await process.wait()
    assert first_event is not None and first_text is not None
    return ((first_event - spawned) * 1000, (first_text - spawned) * 1000,
            (last_text - first_text) * 1000 / (DELTAS - 1))


async def main(runs: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {k: [] for k in (
        "acp_initialize_to_first_chunk_ms", "acp_spawn_to_first_chunk_ms", "acp_initialize_answered_ms",
        "acp_per_delta_ms", "acp_in_process_initialize_to_first_chunk_ms", "acp_in_process_spawn_to_first_chunk_ms",
        "acp_in_process_initialize_answered_ms", "acp_in_process_per_delta_ms", "headless_spawn_to_first_event_ms",
        "headless_spawn_to_first_text_ms", "headless_per_delta_ms")}
    ratios: list[float] = []
    delta_ratios: list[float] = []
    with ScriptedServer(pieces=DELTAS) as server, tempfile.TemporaryDirectory() as tmp:
        workspace, env = Path(tmp) / "ws", _env(server, Path(tmp))
        workspace.mkdir()
        runtime = Path(tmp) / "rt"  # this run's own workers
        env["TERMAGENT_RUNTIME_DIR"] = str(runtime)
        try:
            await acp_run(server, workspace, env)
            await headless_run(server, workspace, env)
            # an editor's next session comes minutes after its first, not at once: both workers
            # the first runs started (the editors' one, the headless one) have warmed up by then
            await asyncio.to_thread(wait_warmed, runtime, 2)
            for _ in range(runs):
                worker = await acp_run(server, workspace, env)
                alone = await acp_run(server, workspace, dict(env, TERMAGENT_WORKER="0"))
                headless = await headless_run(server, workspace, env)
                for key, value in zip(figures, (*worker, *alone, *headless)):
                    figures[key].append(value)
                ratios.append(worker[1] / headless[1])
                delta_ratios.append(worker[3] / headless[2])
        finally:
            stop_workers(runtime)
    medians = {key: round(statistics.median(values), 3) for key, values in figures.items()}
    return {**medians, "acp_over_headless_spawn_to_first_text_ratio": round(statistics.median(ratios), 3),
            "acp_over_headless_per_delta_ratio": round(statistics.median(delta_ratios), 3)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args().runs)), indent=2))
