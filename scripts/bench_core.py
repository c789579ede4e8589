"""Foundation benchmarks (issue 2): start-up, one-turn headless wall time, peak RSS,
harness overhead per turn, and prompt-prefix stability. Medians over repeated runs.

    .venv/bin/python scripts/bench_core.py [--runs N] [--against REV]

`--against REV` also runs the same figures for the code at git revision REV (checked out
in a temporary worktree, run with this venv), A and B in turn, and prints the median of
the paired ratios: a figure from another day or another machine is no baseline, so
"unchanged or better" is judged against the old code on this machine, now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = Path(os.environ.get("BENCH_CORE_TREE", ROOT))  # whose termagent this process measures
sys.path.insert(0, str(TREE))

from termagent.model.request import without_cache_markers  # noqa: E402
from termagent.testing.scripted_server import ScriptedServer, reply, text, tool_use  # noqa: E402

TERMAGENT = str(Path(sys.executable).parent / "termagent")


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def bench_help(runs: int, command: list[str] | None = None, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*(command or [TERMAGENT]), "--help"], capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - started)
    return median_ms(times)


def bench_one_turn(runs: int, env: dict[str, str], command: list[str] | None = None) -> dict[str, float]:
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
            proc = subprocess.Popen([*(command or [TERMAGENT]), "--task", "say hello"], cwd=ws, env=run_env,
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


def measure_overhead(turns: int = 20) -> tuple[list[float], list[dict]]:
    os.environ["ANTHROPIC_API_KEY"] = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        os.environ["TERMAGENT_STATE_DIR"] = str(workspace / ".state")
        (workspace / "big.py").write_text("".join(f"line_{n} = {n}\n" for n in range(300)))
        return asyncio.run(scripted_session(turns, workspace))


@contextlib.contextmanager
def worktree_at(revision: str):
    """The code at `revision` in a throwaway worktree of this checkout."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), revision],
                       check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def _overhead_of(tree: Path) -> float:
    """One fresh process measuring the per-turn overhead of the termagent in `tree`."""
    done = subprocess.run([sys.executable, __file__, "--overhead-only"], capture_output=True, text=True,
                          check=True, env=dict(os.environ, BENCH_CORE_TREE=str(tree)))
    return float(done.stdout.split()[-1])


def against(revision: str, runs: int, env: dict[str, str]) -> None:
    """Each figure for this tree (A) and for `revision` (B) in turn; medians and paired ratios."""
    env = dict(env, TERMAGENT_WORKER="0")  # the code's own cost: the old tree has no warm worker
    figures: dict[str, tuple[list[float], list[float]]] = {}
    with worktree_at(revision) as old:
        for _ in range(runs):
            for side, tree in ((0, ROOT), (1, old)):
                command, tree_env = [sys.executable, "-m", "termagent"], dict(env, PYTHONPATH=str(tree))
                one_turn = bench_one_turn(1, tree_env, command)
                samples = {"termagent --help (ms)": bench_help(1, command, tree_env),
                           "one-turn task, first request (ms)": one_turn["first_request_ms"],
                           "one-turn task, peak RSS (MiB)": one_turn["peak_rss_mb"],
                           "overhead per turn (ms)": _overhead_of(tree)}
                for name, value in samples.items():
                    figures.setdefault(name, ([], []))[side].append(value)
    print(f"this tree (A) against {revision} (B), in-process, {runs} paired runs:")
    for name, (mine, theirs) in figures.items():
        ratio = statistics.median(a / b for a, b in zip(mine, theirs))
        print(f"  {name:<36} A {statistics.median(mine):8.1f}  B {statistics.median(theirs):8.1f}  "
              f"A/B (paired median) {ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also pair every figure with the code at git revision REV")
    parser.add_argument("--overhead-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.overhead_only:
        print(median_ms(measure_overhead()[0]))
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(ANTHROPIC_API_KEY="bench", TERMAGENT_SANDBOX="none")
    print(f"termagent --help median: {bench_help(args.runs)} ms")
    print(f"one-turn headless task: {bench_one_turn(args.runs, env)}")
    overheads, bodies = measure_overhead()
    print(f"harness overhead per turn (stream end -> next request, read_file): median {median_ms(overheads)} ms")
    print(f"prefix stability over 20 turns: {prefix_share(bodies, True)} % of each request equals the previous "
          f"one's prefix (cache markers ignored); {prefix_share(bodies, False)} % byte-for-byte with markers")
    if args.against:
        against(args.against, args.runs, env)


if __name__ == "__main__":
    main()
