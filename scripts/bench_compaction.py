"""Compaction benchmark (issue 8): a scripted 200-turn session whose every turn reads a
large file, run with and without compaction.

Reports the peak input tokens of any main request (the scripted server counts them as
the API roughly would, request bytes / 4), how many compaction requests were made and
how many compactions were plain trims, and prompt-cache friendliness: the share of main
requests whose system + tools + first message equal the previous request's, and the
share whose whole previous prompt is a byte-identical prefix (a full cache hit).

    .venv/bin/python scripts/bench_compaction.py [--turns 200] [--window 60000] [--file-kb 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.config import load_config
from termagent.core.assembly import SessionOptions, open_session
from termagent.core.prompts import load_prompt
from termagent.model.request import without_cache_markers
from termagent.protocol import CompactionDone
from termagent.store.db import Store
from termagent.testing.scripted_server import RecordedRequest, ScriptedServer, reply, tool_use

FILES = 20
SECTIONS = ("Intent and constraints", "Files touched and why", "Decisions and reasons", "Errors and fixes",
            "Open problems", "Next steps")


def make_workspace(root: Path, file_kb: int) -> None:
    line = "value = compute(alpha, beta, gamma)  # a line of ordinary source code\n"
    for n in range(FILES):
        (root / f"module_{n:02d}.py").write_text(f"# module {n}\n" + line * (file_kb * 1024 // len(line)))


def responder(request: RecordedRequest) -> dict[str, Any]:
    """Compaction requests get a summary; a main request answers a user text with a read, a result with text."""
    system = request.body.get("system") or []
    if system and system[0].get("text") == load_prompt("compaction"):
        return reply("\n".join(f"## {s}\n- " + "a remembered detail; " * 12 for s in SECTIONS))
    last = request.body["messages"][-1]["content"]
    if any(b.get("type") == "tool_result" for b in last):
        return reply("Read it; nothing to change there.")
    turn = sum(1 for m in request.body["messages"] if m["role"] == "assistant")
    return reply(tool_use("read_file", {"path": f"module_{turn % FILES:02d}.py"}))


def head(body: dict[str, Any]) -> str:
    return json.dumps([body["system"], body.get("tools"), without_cache_markers(body["messages"][0])])


def prefix_figures(bodies: list[dict[str, Any]]) -> dict[str, float]:
    head_same = full_prefix = 0
    for prev, cur in itertools.pairwise(bodies):
        head_same += head(prev) == head(cur)
        old, new = without_cache_markers(prev["messages"]), without_cache_markers(cur["messages"])
        full_prefix += new[: len(old)] == old
    pairs = max(1, len(bodies) - 1)
    return {"head_identical_share": round(head_same / pairs, 3), "full_prefix_share": round(full_prefix / pairs, 3)}


async def run(turns: int, window: int, enabled: bool, file_kb: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(responder=responder) as server:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        make_workspace(ws, file_kb)
        os.environ.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-bench-000000000000",
                          TERMAGENT_STATE_DIR=tmp + "/state", TERMAGENT_CONFIG_DIR=tmp + "/config")
        config = load_config(ws, include_project=False).with_overrides({
            "model": {"context_window": window}, "sandbox": {"backend": "none"},
            "compaction": {"enabled": enabled}, "limits": {"max_turns": 0},
        })
        store = Store()
        session = open_session(config, SessionOptions(ws, interactive=False), store)
        done: list[CompactionDone] = []
        session.bus.listen(lambda e: done.append(e) if isinstance(e, CompactionDone) else None)
        started = time.perf_counter()
        for turn in range(turns):
            outcome = await session.run_turn(f"turn {turn}: have a look at the next module")
            assert outcome.stop_reason == "end_turn", outcome
        wall = time.perf_counter() - started
        await session.close()
        store.close()
        requests = server.requests
    compaction_prompt = load_prompt("compaction")
    mains = [r for r in requests if (r.body.get("system") or [{}])[0].get("text") != compaction_prompt]
    sizes = [len(json.dumps(r.body)) // 4 for r in mains]
    return {
        "compaction": enabled, "turns": turns, "main_requests": len(mains),
        "peak_input_tokens": max(sizes), "final_input_tokens": sizes[-1],
        "compaction_requests": len(requests) - len(mains),
        "folds": sum(1 for e in done if e.turns_folded), "trims_only": sum(1 for e in done if not e.turns_folded),
        **prefix_figures([r.body for r in mains]), "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--window", type=int, default=60_000, help="model.context_window in tokens")
    parser.add_argument("--file-kb", type=int, default=8, help="size of each file the agent reads")
    args = parser.parse_args()
    for enabled in (True, False):
        print(json.dumps(asyncio.run(run(args.turns, args.window, enabled, args.file_kb))), flush=True)


if __name__ == "__main__":
    main()
