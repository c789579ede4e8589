#!/usr/bin/env python3
"""Benchmark: why one long-lived container per session instead of `docker run` per command.

Prints the median latency of `true` through the warm session container (one exec,
including the wrapper that tracks cwd, timeout and OOM), the median of a fresh
`docker run --rm` with the same image per command, their ratio, and the median cost
of starting and of closing a session sandbox, and the median latency of starting a
background job and of one `job_output` read (target for both: <= 100 ms).

Usage: .venv/bin/python scripts/bench_sandbox.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from termagent.config import DEFAULTS, Config
from termagent.sandbox.docker_backend import DockerSandbox, connect_engine
from termagent.sandbox.docker_settings import limits_from_config


async def warm_exec(sandbox: DockerSandbox, runs: int) -> list[float]:
    await sandbox.exec("true", 10)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await sandbox.exec("true", 10)
        samples.append(time.perf_counter() - started)
    return samples


def cold_run(image: str, workspace: Path, runs: int) -> list[float]:
    client = connect_engine()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        client.containers.run(image, ["true"], remove=True, network_mode="none", read_only=True,
                              volumes={str(workspace): {"bind": "/workspace", "mode": "rw"}})
        samples.append(time.perf_counter() - started)
    return samples


async def lifecycle(limits: object, workspace: Path, runs: int) -> tuple[list[float], list[float]]:
    starts, closes = [], []
    for index in range(runs):
        sandbox = DockerSandbox(limits, workspace, f"bench-{index}")  # type: ignore[arg-type]
        started = time.perf_counter()
        await sandbox.start()
        starts.append(time.perf_counter() - started)
        started = time.perf_counter()
        await sandbox.close()
        closes.append(time.perf_counter() - started)
    return starts, closes


async def job_latency(sandbox: DockerSandbox, runs: int) -> tuple[list[float], list[float]]:
    """Median cost of starting a background job, and of one job_output read of a chatty job."""
    starts, reads = [], []
    for _ in range(runs):
        started = time.perf_counter()
        job = await sandbox.start_job("sleep 1000")
        starts.append(time.perf_counter() - started)
        await sandbox.kill_job(job.id)
    chatty = await sandbox.start_job("while :; do echo tick; sleep 0.05; done")
    for _ in range(runs):
        started = time.perf_counter()
        await sandbox.read_job(chatty.id)
        reads.append(time.perf_counter() - started)
    await sandbox.kill_job(chatty.id)
    return starts, reads


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    allow_root = os.environ.get("TERMAGENT_SANDBOX_ALLOW_ROOT") == "1"  # the bench reads no config file
    overrides = {"sandbox": {"allow_root": allow_root, "caches": False}}  # no cache volumes left behind
    limits = limits_from_config(Config(DEFAULTS).with_overrides(overrides))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        sandbox = DockerSandbox(limits, workspace, "bench-warm")
        await sandbox.start()
        try:
            warm = statistics.median(await warm_exec(sandbox, runs))
            job_starts, job_reads = await job_latency(sandbox, runs)
        finally:
            await sandbox.close()
        cold = statistics.median(await asyncio.to_thread(cold_run, limits.image, workspace, max(5, runs // 3)))
        starts, closes = await lifecycle(limits, workspace, max(3, runs // 6))
    print(f"warm exec `true` (median of {runs}):      {warm * 1000:8.1f} ms")
    print(f"docker run --rm `true` (median):        {cold * 1000:8.1f} ms")
    print(f"ratio run/exec:                         {cold / warm:8.1f} x")
    print(f"session start (median):                 {statistics.median(starts) * 1000:8.1f} ms")
    print(f"session close (median):                 {statistics.median(closes) * 1000:8.1f} ms")
    print(f"background job start (median):          {statistics.median(job_starts) * 1000:8.1f} ms  (target <= 100)")
    print(f"job_output read (median):               {statistics.median(job_reads) * 1000:8.1f} ms  (target <= 100)")


if __name__ == "__main__":
    asyncio.run(main())
