#!/usr/bin/env python3
"""Benchmark: why one long-lived container per session instead of `docker run` per command.

Prints the median latency of `true` through the warm session container (one exec,
including the wrapper that tracks cwd, timeout and OOM), the median of a fresh
`docker run --rm` with the same image per command, their ratio, and the median cost
of starting and of closing a session sandbox, the median latency of starting a
background job and of one `job_output` read (target for both: <= 100 ms), and, with the
egress proxy image built, the proxy's overhead (see scripts/bench_egress.py): over
loopback, downloads of 16 KB (twenty, each on a new connection: the fixed cost per
connection), 1, 10 and 100 MB, and 10 MB sent at 50 MB/s, direct, through a bare relay and
through squid (plain HTTP and CONNECT), with the CPU the container in the middle spent per
download (the proxy's ceiling: a local server sends faster than any network) and what an
allowlist session costs to start; then real ~10 MB files from the machine's registries,
direct and through the proxy (target: <= 15 %): a wheel from pip's index over HTTPS, as
`pip install` fetches it, and a .deb from apt's mirror over plain HTTP.

Usage: .venv/bin/python scripts/bench_sandbox.py [--runs N] [--no-proxy | --proxy-only] [--proxy-sizes small,10MB] [--no-index]
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
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.engine import connect_engine
from termagent.sandbox.docker_settings import SandboxLimits, limits_from_config
from scripts.bench_egress import SIZES, print_paths, print_proxy, proxy_overhead, registry_files, registry_overhead

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


async def sandbox_figures(limits: SandboxLimits, runs: int) -> None:
    """Warm exec against docker run, session start and close, job start and job_output."""
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-proxy", action="store_true", help="skip the egress proxy measurement")
    parser.add_argument("--proxy-only", action="store_true", help="only the egress proxy measurement")
    parser.add_argument("--proxy-sizes", default="small,1MB,10MB,100MB,paced10MB",
                        help="loopback payloads for the proxy measurement, comma-separated (none: \"\"): " + ",".join(SIZES))
    parser.add_argument("--no-index", action="store_true", help="skip the downloads from the machine's package registries")
    args = parser.parse_args()
    runs = args.runs
    allow_root = os.environ.get("TERMAGENT_SANDBOX_ALLOW_ROOT") == "1" or os.getuid() == 0  # as the tests do
    overrides = {"sandbox": {"allow_root": allow_root, "caches": False}}  # no cache volumes left behind
    limits = limits_from_config(Config(DEFAULTS).with_overrides(overrides))
    if not args.proxy_only:
        await sandbox_figures(limits, runs)
    if args.no_proxy:
        return
    sizes = [size for size in args.proxy_sizes.split(",") if size]
    if sizes:
        before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            figures, start_s = await proxy_overhead(limits, Path(tmp), max(5, runs // 3), sizes)
        print_proxy(figures, start_s, (before, os.getloadavg()[0]))
    if not args.no_index:
        await registry_figures(limits, max(5, runs // 3))


async def registry_figures(limits: SandboxLimits, runs: int) -> None:
    """The downloads users make through the proxy: real files from the machine's registries."""
    files = registry_files()
    if not files:
        print("registries: neither pip's index nor apt's mirror could be read; skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        figures = await registry_overhead(limits, Path(tmp), runs, files)
    for download, fig in zip(files, figures):
        scheme = download.url.partition(":")[0]
        label = f"{download.size / (1 << 20):.1f} MB {download.url.rpartition('.')[2]} over {scheme}"
        print_paths(label, fig)
        print(f"registry overhead {scheme:<5} {label} (target <= 15 %): {(fig.paired['proxy'] - 1) * 100:6.1f} %")


if __name__ == "__main__":
    asyncio.run(main())
