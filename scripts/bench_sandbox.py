#!/usr/bin/env python3
"""Benchmark: why one long-lived container per session instead of `docker run` per command.

Prints the median latency of `true` through the warm session container (one exec,
including the wrapper that tracks cwd, timeout and OOM), the median of a fresh
`docker run --rm` with the same image per command, their ratio, and the median cost
of starting and of closing a session sandbox, the median latency of starting a
background job and of one `job_output` read (target for both: <= 100 ms), and, with the
egress proxy image built, the proxy's overhead: a 10 MB HTTP download through the squid
sidecar from the allowlist sandbox against the same download straight from a container on
the server's network (target <= 15 %), and what an allowlist session costs to start.

Usage: .venv/bin/python scripts/bench_sandbox.py [--runs N] [--no-proxy]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from termagent.config import DEFAULTS, Config
from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.engine import connect_engine
from termagent.sandbox.docker_settings import limits_from_config
from termagent.sandbox.egress_policy import policy_from_settings

TRANSFER_BYTES = 10 * 1024 * 1024
# Runs inside a container: N timed downloads of URL in one process, seconds as JSON. With a
# third argument "tunnel" it goes through a CONNECT tunnel (what HTTPS clients do) instead.
FETCH = ("import http.client,json,os,sys,time,urllib.parse as p,urllib.request as u\n"
         "def get(url):\n"
         "    if sys.argv[3:] != ['tunnel']:\n"
         "        return u.urlopen(url).read()\n"
         "    proxy, target = p.urlsplit(os.environ['HTTPS_PROXY']), p.urlsplit(url)\n"
         "    c = http.client.HTTPConnection(proxy.hostname, proxy.port); c.set_tunnel(target.hostname, target.port)\n"
         "    c.request('GET', target.path); return c.getresponse().read()\n"
         "out=[]\n"
         "for _ in range(int(sys.argv[2])):\n"
         "    t=time.perf_counter(); n=len(get(sys.argv[1])); out.append(time.perf_counter()-t)\n"
         "    assert n==%d, n\n"
         "print(json.dumps(out))\n") % TRANSFER_BYTES


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


async def proxy_overhead(limits: object, workspace: Path, runs: int) -> tuple[float, float, float, float]:
    """Median seconds for 10 MB direct, through the proxy (HTTP, CONNECT), and the allowlist start."""
    client = connect_engine()
    image = limits.image  # type: ignore[attr-defined]
    name = "termagent-bench-egress-" + secrets.token_hex(3)
    network = client.networks.create(name, driver="bridge")
    made = []
    try:
        serve = f"head -c {TRANSFER_BYTES} /dev/urandom >/tmp/blob && cd /tmp && exec python3 -m http.server 8000"
        server = client.containers.run(image, ["bash", "-c", serve], detach=True, network=name, init=True)
        # the same CPU share as the sandbox, so only the path differs
        direct_client = client.containers.run(image, ["sleep", "infinity"], detach=True, network=name, init=True,
                                              nano_cpus=int(limits.cpus * 1e9))  # type: ignore[attr-defined]
        made += [server, direct_client]
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][name]["IPAddress"]
        url = f"http://{address}:8000/blob"
        policy = policy_from_settings({"mode": "allowlist", "allow": [f"{address}:8000"]})
        sandbox = DockerSandbox(dataclasses.replace(limits, egress=policy), workspace, "bench-egress")  # type: ignore[type-var]
        started = time.perf_counter()
        await sandbox.start()
        start_s = time.perf_counter() - started
        try:
            proxy = client.containers.list(filters={"label": ["termagent.session=bench-egress", "termagent.role=egress"]})[0]
            network.connect(proxy)
            (workspace / "fetch.py").write_text(FETCH)
            direct: list[float] = []
            proxied: list[float] = []
            tunnelled: list[float] = []
            for _ in range(runs):  # alternate small batches: a loaded machine's drift hits every path alike
                direct += _run_in(direct_client, ["python3", "-c", FETCH, url, "3"])
                for samples, extra in ((proxied, ""), (tunnelled, " tunnel")):
                    result = await sandbox.exec(f"python3 fetch.py {url} 3{extra}", 600)
                    samples += [float(x) for x in json.loads(result.output.strip().splitlines()[-1])]
        finally:
            await sandbox.close()
        return statistics.median(direct), statistics.median(proxied), statistics.median(tunnelled), start_s
    finally:
        for container in made:
            container.remove(force=True)
        network.remove()


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
    parser.add_argument("--no-proxy", action="store_true", help="skip the egress proxy measurement")
    args = parser.parse_args()
    runs = args.runs
    allow_root = os.environ.get("TERMAGENT_SANDBOX_ALLOW_ROOT") == "1" or os.getuid() == 0  # as the tests do
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
    if args.no_proxy:
        return
    with tempfile.TemporaryDirectory() as tmp:
        direct, proxied, tunnelled, start_s = await proxy_overhead(limits, Path(tmp), max(5, runs // 3))
    print(f"10 MB direct (median):                  {direct * 1000:8.1f} ms")
    print(f"10 MB through the proxy, HTTP (median): {proxied * 1000:8.1f} ms")
    print(f"10 MB through the proxy, CONNECT:       {tunnelled * 1000:8.1f} ms")
    print(f"proxy overhead HTTP (target <= 15 %):   {(proxied / direct - 1) * 100:8.1f} %")
    print(f"proxy overhead CONNECT (target <= 15 %):{(tunnelled / direct - 1) * 100:8.1f} %")
    print(f"allowlist session start (one):          {start_s * 1000:8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
