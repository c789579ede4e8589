#!/usr/bin/env python3
"""Benchmark: why one long-lived container per session instead of `docker run` per command.

Prints the median latency of `true` through the warm session container (one exec,
including the wrapper that tracks cwd, timeout and OOM), the median of a fresh
`docker run --rm` with the same image per command, their ratio, and the median cost
of starting and of closing a session sandbox, the median latency of starting a
background job and of one `job_output` read (target for both: <= 100 ms), and, with the
egress proxy image built, the proxy's overhead: downloads of 16 KB (twenty, each on a new
connection: the fixed cost per connection), 1, 10 and 100 MB, and 10 MB sent at 50 MB/s (as
a fast download from the internet arrives), through the squid sidecar from
the allowlist sandbox (plain HTTP forwarding, and a CONNECT tunnel as HTTPS clients use)
against the same downloads straight from a container on the server's network, as medians,
as the median of per-round ratios (target for 10 MB: <= 15 %), and the proxy container's CPU
time per download (where the time goes, and steadier than wall time on a loaded host); and
what an allowlist session costs to start.

Usage: .venv/bin/python scripts/bench_sandbox.py [--runs N] [--no-proxy | --proxy-only] [--proxy-sizes small,10MB]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from termagent.config import DEFAULTS, Config
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.engine import connect_engine
from termagent.sandbox.docker_settings import SandboxLimits, limits_from_config
from termagent.sandbox.egress_policy import policy_from_settings

# Payloads served by the test server: bulk downloads of 1, 10 and 100 MB, and a 16 KB file
# fetched SMALL_REQUESTS times, each on a new connection (the fixed cost per connection: proxy
# connect, CONNECT round trip, ACL checks), as a client making many small requests sees it.
SIZES = {"1MB": 1 << 20, "10MB": 10 << 20, "100MB": 100 << 20, "small": 16 << 10, "paced10MB": 10 << 20}
SMALL_REQUESTS = 20
# The local server sends as fast as the CPU allows, so the proxy sits on the critical path;
# "paced10MB" is the same 10 MB sent at PACED_RATE, as a fast download from the internet
# arrives, where a proxy's copying overlaps the wait for the network.
PACED_RATE = 50 << 20
SERVE = ("import http.server,time\n"
         "class Handler(http.server.SimpleHTTPRequestHandler):\n"
         "    def copyfile(self, source, dest):\n"
         "        if not self.path.startswith('/paced'):\n"
         "            return super().copyfile(source, dest)\n"
         "        start, sent = time.monotonic(), 0\n"
         "        while chunk := source.read(256 * 1024):\n"
         "            dest.write(chunk); sent += len(chunk)\n"
         "            time.sleep(max(0.0, start + sent / %d - time.monotonic()))\n"
         "http.server.ThreadingHTTPServer(('', 8000), Handler).serve_forever()\n") % PACED_RATE
TARGET_SIZE = "10MB"
# Runs inside a container: COUNT timed samples of URL in one process, seconds as JSON; a
# sample is REQUESTS downloads of EXPECTED bytes. With "tunnel" it goes through a CONNECT
# tunnel (what HTTPS clients do) instead of the plain HTTP forward path. Reads are whole
# responses (http.client reads a known length in one call), so the client's read size
# favours neither path.
FETCH = ("import http.client,json,os,sys,time,urllib.parse as p,urllib.request as u\n"
         "url, expected, count, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])\n"
         "def get():\n"
         "    if sys.argv[5:] != ['tunnel']:\n"
         "        return u.urlopen(url).read()\n"
         "    proxy, target = p.urlsplit(os.environ['HTTPS_PROXY']), p.urlsplit(url)\n"
         "    c = http.client.HTTPConnection(proxy.hostname, proxy.port); c.set_tunnel(target.hostname, target.port)\n"
         "    c.request('GET', target.path); body = c.getresponse().read(); c.close(); return body\n"
         "out=[]\n"
         "for _ in range(count):\n"
         "    t=time.perf_counter()\n"
         "    for _ in range(requests):\n"
         "        n=len(get()); assert n==expected, n\n"
         "    out.append(time.perf_counter()-t)\n"
         "print(json.dumps(out))\n")
PATHS = ("direct", "http", "connect")


@dataclasses.dataclass(frozen=True)
class PathFigures:
    """One payload's medians per path, and each proxied path's median of per-round ratios."""

    size: str
    medians: dict[str, float]
    paired: dict[str, float]  # median over rounds of (path / direct), both from the same round
    proxy_cpu: dict[str, float]  # median CPU seconds the proxy container spent per download


def _cpu_s(container: Any) -> float:
    """The container's CPU time so far (user + system); less disturbed by a loaded host than wall time."""
    return float(container.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


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


def _run_in(container: object, argv: list[str]) -> list[float]:
    code, out = container.exec_run(argv)  # type: ignore[attr-defined]
    if code != 0:
        raise RuntimeError(out.decode(errors="replace")[-500:])
    return [float(x) for x in json.loads(out.decode().strip().splitlines()[-1])]


def _downloads(size: str) -> tuple[int, int]:
    """Samples in one batch (3; 1 of 100 MB) and downloads per sample (SMALL_REQUESTS if small)."""
    return (1 if size == "100MB" else 3), (SMALL_REQUESTS if size == "small" else 1)


def _fetch_argv(url: str, size: str, path: str) -> list[str]:
    count, requests = _downloads(size)
    tunnel = ["tunnel"] if path == "connect" else []
    return ["python3", "fetch.py", url, str(SIZES[size]), str(count), str(requests)] + tunnel


def _figures(size: str, rounds: list[dict[str, list[float]]]) -> PathFigures:
    medians = {path: statistics.median(x for r in rounds for x in r[path]) for path in PATHS}
    paired = {path: statistics.median(statistics.median(r[path]) / statistics.median(r["direct"]) for r in rounds)
              for path in PATHS[1:]}
    cpu = {path: statistics.median(r[path + " cpu"][0] for r in rounds) for path in PATHS[1:]}
    return PathFigures(size, medians, paired, cpu)


async def _measure(sandbox: DockerSandbox, direct_client: object, proxy: Any, base: str, sizes: list[str],
                   runs: int) -> list[PathFigures]:
    """Round after round, each payload down each path in turn (order reversed every other round),
    so a loaded machine's drift hits every path alike and each round yields its own ratios."""
    rounds: dict[str, list[dict[str, list[float]]]] = {size: [] for size in sizes}
    for index in range(runs):
        for size in sizes:
            url, samples = f"{base}/{size}", {}
            for path in (PATHS if index % 2 == 0 else PATHS[::-1]):
                if path == "direct":
                    samples[path] = _run_in(direct_client, ["python3", "-c", FETCH] + _fetch_argv(url, size, path)[2:])
                    continue
                used = _cpu_s(proxy)
                result = await sandbox.exec(" ".join(_fetch_argv(url, size, path)), 600)
                samples[path + " cpu"] = [(_cpu_s(proxy) - used) / math.prod(_downloads(size))]
                samples[path] = [float(x) for x in json.loads(result.output.strip().splitlines()[-1])]
            rounds[size].append(samples)
    return [_figures(size, rounds[size]) for size in sizes]


async def proxy_overhead(limits: SandboxLimits, workspace: Path, runs: int,
                         sizes: list[str]) -> tuple[list[PathFigures], float]:
    """Each payload direct and through the proxy (HTTP, CONNECT), and the allowlist session start."""
    client = connect_engine()
    image = limits.image
    name = "termagent-bench-egress-" + secrets.token_hex(3)
    network = client.networks.create(name, driver="bridge")
    made = []
    try:
        files = " && ".join(f"head -c {SIZES[size]} /dev/urandom >/tmp/{size}" for size in sizes)
        server = client.containers.run(image, ["bash", "-c", f'{files} && cd /tmp && exec python3 -c "$SERVE"'],
                                       environment={"SERVE": SERVE},
                                       detach=True, network=name, init=True)
        # the same CPU share as the sandbox, so only the path differs
        direct_client = client.containers.run(image, ["sleep", "infinity"], detach=True, network=name, init=True,
                                              nano_cpus=int(limits.cpus * 1e9))
        made += [server, direct_client]
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        policy = policy_from_settings({"mode": "allowlist", "allow": [f"{address}:8000"]})
        sandbox = DockerSandbox(dataclasses.replace(limits, egress=policy), workspace, "bench-egress")
        started = time.perf_counter()
        await sandbox.start()
        start_s = time.perf_counter() - started
        try:
            labels = {"label": ["termagent.session=bench-egress", "termagent.role=egress"]}
            proxy = client.containers.list(filters=labels)[0]
            network.connect(proxy)  # the proxy reaches the server here
            (workspace / "fetch.py").write_text(FETCH)
            return await _measure(sandbox, direct_client, proxy, f"http://{address}:8000", sizes, runs), start_s
        finally:
            await sandbox.close()
    finally:
        for container in made:
            container.remove(force=True)
        network.remove()


def print_proxy(figures: list[PathFigures], start_s: float, load: tuple[float, float]) -> None:
    """Medians per payload and path, the paired overhead, and the target line for 10 MB."""
    print(f"machine load (1-min average) before/after the proxy runs: {load[0]:.2f} / {load[1]:.2f} "
          f"on {os.cpu_count()} CPUs")
    for fig in figures:
        label = {"small": f"{SMALL_REQUESTS} x 16 KB, new connections",
                 "paced10MB": f"10MB sent at {PACED_RATE >> 20} MB/s"}.get(fig.size, fig.size)
        row = "  ".join(f"{path} {fig.medians[path] * 1000:8.1f} ms" for path in PATHS)
        over = "  ".join(f"{path} {(fig.paired[path] - 1) * 100:+6.1f} %" for path in PATHS[1:])
        cpu = "  ".join(f"{path} {fig.proxy_cpu[path] * 1000:6.2f} ms" for path in PATHS[1:])
        print(f"{label:>30} (median): {row}   overhead (paired): {over}   proxy CPU per download: {cpu}")
    for target in (fig for fig in figures if fig.size == TARGET_SIZE):
        for path in PATHS[1:]:
            print(f"proxy overhead {path:<8} 10 MB (target <= 15 %): {(target.paired[path] - 1) * 100:6.1f} %")
    print(f"allowlist session start (one):          {start_s * 1000:8.1f} ms")


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
                        help="payloads for the proxy measurement, comma-separated: " + ",".join(SIZES))
    args = parser.parse_args()
    runs = args.runs
    allow_root = os.environ.get("TERMAGENT_SANDBOX_ALLOW_ROOT") == "1" or os.getuid() == 0  # as the tests do
    overrides = {"sandbox": {"allow_root": allow_root, "caches": False}}  # no cache volumes left behind
    limits = limits_from_config(Config(DEFAULTS).with_overrides(overrides))
    if not args.proxy_only:
        await sandbox_figures(limits, runs)
    if args.no_proxy:
        return
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        figures, start_s = await proxy_overhead(limits, Path(tmp), max(5, runs // 3), args.proxy_sizes.split(","))
    print_proxy(figures, start_s, (before, os.getloadavg()[0]))


if __name__ == "__main__":
    asyncio.run(main())
