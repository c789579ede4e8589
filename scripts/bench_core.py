"""Foundation benchmarks (issue 2): start-up, one-turn headless wall time, peak RSS,
harness overhead per turn, and prompt-prefix stability. Medians over repeated runs.

    .venv/bin/python scripts/bench_core.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.model.request import without_cache_markers  # noqa: E402
from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use  # noqa: E402

TERMAGENT = str(Path(sys.executable).parent / "termagent")


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def bench_help(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([TERMAGENT, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return median_ms(times)


def bench_one_turn(runs: int, env: dict[str, str]) -> dict[str, float]:
    first_request, wall, rss = [], [], []
    for _ in range(runs):
        stamps: list[float] = []

        def responder(request, stamps=stamps):
            stamps.append(time.perf_counter())
            return None

        with tempfile.TemporaryDirectory() as ws, tempfile.TemporaryDirectory() as state, \
                ScriptedServer([reply(text("hello"))], responder=responder) as server:
            # the state dir stays outside the workspace: termagent refuses a workspace holding its own files
            run_env = dict(env, ANTHROPIC_BASE_URL=server.url, TERMAGENT_STATE_DIR=state)
            started = time.perf_counter()
            proc = subprocess.Popen([TERMAGENT, "--task", "say hello"], cwd=ws, env=run_env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall.append(time.perf_counter() - started)
            first_request.append(stamps[0] - started)
            rss.append(usage.ru_maxrss / 1024)
            assert os.waitstatus_to_exitcode(status) == 0
    return {"first_request_ms": median_ms(first_request), "wall_ms": median_ms(wall),
            "peak_rss_mb": round(statistics.median(rss), 1)}


async def scripted_session(turns: int, workspace: Path) -> tuple[list[float], list[dict]]:
    """In-process: `turns` read_file calls; measures stream end -> next request."""
    from termagent.config import load_config
    from termagent.core.assembly import SessionOptions, open_session
    from termagent.protocol import UsageUpdated
    from termagent.store.db import Store

    received: list[float] = []
    steps = [reply(text(f"step {n}"), tool_use("read_file", {"path": "big.py"})) for n in range(turns)]
    steps.append(reply(text("done")))
    with ScriptedServer(steps, responder=lambda r: received.append(time.perf_counter())) as server:
        os.environ["ANTHROPIC_BASE_URL"] = server.url
        config = load_config(workspace).with_overrides({"sandbox": {"backend": "none"}})
        session = open_session(config, SessionOptions(workspace, interactive=False), Store(workspace / "s.db"))
        stream_ends: list[float] = []
        session.bus.listen(lambda e: stream_ends.append(time.perf_counter()) if isinstance(e, UsageUpdated) else None)
        session.start()
        await session.run_turn("read big.py repeatedly")
        await session.close()
        overheads = [received[i + 1] - stream_ends[i] for i in range(len(stream_ends) - 1)]
        return overheads, [r.body for r in server.requests]


def prefix_share(bodies: list[dict], strip_markers: bool) -> float:
    """Median share of each request's serialized system+tools+messages that repeats the
    previous request byte for byte. The cache keys on content blocks, not on where the
    moving `cache_control` marker sits, so the first figure ignores the markers."""

    def serial(body: dict) -> str:
        data = [body.get("system"), body.get("tools"), body["messages"]]
        return json.dumps(without_cache_markers(data) if strip_markers else data)

    shares = []
    for previous, current in zip(bodies, bodies[1:]):
        a, b = serial(previous), serial(current)
        common = len(os.path.commonprefix([a, b]))
        shares.append(common / len(a))
    return round(100 * statistics.median(shares), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_API_KEY="bench", TERMAGENT_SANDBOX="none")
    print(f"termagent --help median: {bench_help(args.runs)} ms")
    print(f"one-turn headless task: {bench_one_turn(args.runs, env)}")
    os.environ["ANTHROPIC_API_KEY"] = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        os.environ["TERMAGENT_STATE_DIR"] = str(workspace / ".state")
        (workspace / "big.py").write_text("".join(f"line_{n} = {n}\n" for n in range(300)))
        overheads, bodies = asyncio.run(scripted_session(20, workspace))
    print(f"harness overhead per turn (stream end -> next request, read_file): median {median_ms(overheads)} ms")
    print(f"prefix stability over 20 turns: {prefix_share(bodies, True)} % of each request equals the previous "
          f"one's prefix (cache markers ignored); {prefix_share(bodies, False)} % byte-for-byte with markers")


if __name__ == "__main__":
    main()
