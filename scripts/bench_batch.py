"""Batch throughput: N short tasks (default 24) with 1, 2 and 4 local workers and on a
local Ray cluster, against the scripted model server (no API key, no sandbox).

Each task is one model reply in its own copy of a tiny project. It reports per
configuration the wall time, tasks per minute and the speed-up over one worker, and
the harness's own cost per task: copy + baseline (prepare_s) and diff (diff_s) from the
result lines, and the whole per-task time beside one bare `termagent --task` run.

    .venv/bin/python scripts/bench_batch.py [--tasks N] [--configs 1,2,4,ray]

The Ray cluster is started here (own temp dir and ports, 4 CPUs) and its processes ended
by pid afterwards. On a shared or small machine the speed-up is bounded by its cores:
each task's time is mostly the child interpreter importing the SDK.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from termagent.testing.scripted_server import ScriptedServer, reply, text

RAY = Path(sys.executable).parent / "ray"


def env_for(server: ScriptedServer, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "RAY_"))}
    env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-bench-000000000000",
               TERMAGENT_STATE_DIR=str(state / "state"), TERMAGENT_CONFIG_DIR=str(state / "config"),
               PYTHONPATH=str(ROOT))
    return env


def write_tasks(root: Path, count: int) -> Path:
    project = root / "project"
    project.mkdir()
    (project / "README").write_text("a tiny project\n")
    path = root / "tasks.jsonl"
    path.write_text("".join(json.dumps({"id": f"b{n:02d}", "task": f"say hello {n}", "workspace": str(project)}) + "\n"
                            for n in range(count)))
    return path


def run_batch(env: dict[str, str], tasks: Path, out: Path, *where: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "termagent", "batch", str(tasks), "--out", str(out),
                           "--sandbox", "none", *where], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"batch {' '.join(where)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall


def bare_run(env: dict[str, str], workspace: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "termagent", "--task", "say hello", "--output", "json", "--sandbox", "none",
                    "-C", str(workspace)], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ray(env: dict[str, str], cpus: int) -> tuple[str, str]:
    temp = tempfile.mkdtemp(prefix="ta-bench-ray-", dir="/tmp")
    port = free_port()
    cluster_env = {k: v for k, v in env.items() if not k.startswith("ANTHROPIC_")}
    subprocess.run([str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={cpus}",
                    f"--temp-dir={temp}", "--include-dashboard=false", f"--dashboard-port={free_port()}",
                    f"--ray-client-server-port={free_port()}", "--disable-usage-stats"],
                   env=cluster_env, check=True, capture_output=True)
    return f"127.0.0.1:{port}", temp


def stop_ray(temp: str) -> None:
    """End the processes of this cluster only (their command lines name its temp dir)."""
    def pids() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and temp in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids():
            try:
                os.kill(pid, signum)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while pids() and time.monotonic() < deadline:
            time.sleep(0.2)
    shutil.rmtree(temp, ignore_errors=True)


def overheads(out: Path) -> dict[str, float]:
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    timing = [line["timings"] for line in lines]
    return {key: statistics.median(t[key] for t in timing) for key in ("prepare_s", "agent_s", "diff_s", "total_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--configs", default="1,2,4,ray")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp, \
            ScriptedServer(responder=lambda request: reply(text("hello"))) as server:
        root = Path(tmp)
        env = env_for(server, root)
        tasks = write_tasks(root, args.tasks)
        bare = statistics.median(bare_run(env, root / "project") for _ in range(3))
        print(f"{args.tasks} tasks, {os.cpu_count()} CPUs; one bare `termagent --task` run: {bare:.2f}s (median of 3)")
        print(f"{'config':<14}{'wall s':>8}{'tasks/min':>11}{'speed-up':>10}{'prepare s':>11}{'diff s':>8}"
              f"{'agent s':>9}{'per task s':>12}", flush=True)
        base: float | None = None
        for config in args.configs.split(","):
            row = measure(env, tasks, root / f"results-{config}.jsonl", config)
            base = base or row["wall_s"]
            print(f"{row['config']:<14}{row['wall_s']:>8.1f}{60 * args.tasks / row['wall_s']:>11.1f}"
                  f"{base / row['wall_s']:>10.2f}{row['prepare_s']:>11.3f}{row['diff_s']:>8.3f}"
                  f"{row['agent_s']:>9.2f}{row['total_s']:>12.2f}", flush=True)
    print("prepare + diff is the harness's own work per task (medians); agent s is the child's whole run")


def measure(env: dict[str, str], tasks: Path, out: Path, config: str) -> dict[str, Any]:
    """One configuration's wall time and median per-task timings."""
    if config == "ray":
        address, temp = start_ray(env, 4)
        try:
            wall = run_batch(env, tasks, out, "--ray", address, "--ray-memory-gib", "0.2")
        finally:
            stop_ray(temp)
    else:
        wall = run_batch(env, tasks, out, "--workers", config)
    return {"config": config if config == "ray" else f"{config} worker(s)", "wall_s": wall, **overheads(out)}


if __name__ == "__main__":
    main()
