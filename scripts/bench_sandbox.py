#!/usr/bin/env python3
"""Benchmark: why one long-lived container per session instead of `docker run` per command.

Prints the median latency of `true` through the warm session container (one exec,
including the wrapper that tracks cwd, timeout and OOM), the median of a fresh
`docker run --rm` with the same image per command, their ratio, and the median cost
of starting and of closing a session sandbox.

Usage: .venv/bin/python scripts/bench_sandbox.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    limits = limits_from_config(Config(DEFAULTS))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        sandbox = DockerSandbox(limits, workspace, "bench-warm")
        await sandbox.start()
        try:
            warm = statistics.median(await warm_exec(sandbox, runs))
        finally:
            await sandbox.close()
        cold = statistics.median(await asyncio.to_thread(cold_run, limits.image, workspace, max(5, runs // 3)))
        starts, closes = await lifecycle(limits, workspace, max(3, runs // 6))
    print(f"warm exec `true` (median of {runs}):      {warm * 1000:8.1f} ms")
    print(f"docker run --rm `true` (median):        {cold * 1000:8.1f} ms")
    print(f"ratio run/exec:                         {cold / warm:8.1f} x")
    print(f"session start (median):                 {statistics.median(starts) * 1000:8.1f} ms")
    print(f"session close (median):                 {statistics.median(closes) * 1000:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
