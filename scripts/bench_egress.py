"""The egress proxy's cost, as scripts/bench_sandbox.py prints it.

Two settings. Over loopback, a local server in a container sends as fast as the CPU allows,
so whatever sits between it and the sandbox is on the critical path: each payload goes
straight from a container on the server's network ("direct"), through a bare TCP relay at
the proxy's place with no policy at all ("relay": two splice() calls per step, the floor any
proxy hop costs), and through the squid sidecar from the allowlist sandbox, by plain HTTP
forwarding ("http") and a CONNECT tunnel ("connect", what HTTPS clients use). From the
machine's registries, real ~10 MB files go straight from a container on Docker's default
network and through the proxy: a wheel from pip's index over HTTPS, as `pip install`
fetches it, and a .deb from apt's mirror over plain HTTP. Rounds
alternate the order of the paths, and the overhead is the median of per-round ratios, so a
loaded machine's drift hits every path alike.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from termagent.sandbox.docker_backend import DockerSandbox
from termagent.sandbox.docker_settings import SandboxLimits
from termagent.sandbox.egress_policy import policy_from_settings
from termagent.sandbox.engine import connect_engine
from tests.machine_indexes import IndexFile, apt_file_near, file_near, pip_cert

# Payloads served by the test server: bulk downloads of 1, 10 and 100 MB, and a 16 KB file
# fetched SMALL_REQUESTS times, each on a new connection (the fixed cost per connection: proxy
# connect, CONNECT round trip, ACL checks), as a client making many small requests sees it.
SIZES = {"1MB": 1 << 20, "10MB": 10 << 20, "100MB": 100 << 20, "small": 16 << 10, "paced10MB": 10 << 20}
SMALL_REQUESTS = 20
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
INDEX_PROJECT, INDEX_SIZE = "numpy", 10 << 20  # a project with wheels of every size
# Runs inside a container: COUNT timed samples of URL in one process, seconds as JSON; a
# sample is REQUESTS downloads of EXPECTED bytes. "tunnel" goes through a CONNECT tunnel
# (what HTTPS clients do) instead of the plain HTTP forward path, "noproxy" ignores the
# proxy the environment names. Reads are whole responses (http.client reads a known length
# in one call), so the client's read size favours no path.
FETCH = ("import http.client,json,os,sys,time,urllib.parse as p,urllib.request as u\n"
         "url, expected, count, requests, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]\n"
         "opener = u.build_opener(u.ProxyHandler({})) if mode == ['noproxy'] else u.build_opener()\n"
         "def get():\n"
         "    if mode != ['tunnel']:\n"
         "        return opener.open(url).read()\n"
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
# A bare relay: every connection on RELAY_PORT spliced to the server, one thread a direction.
RELAY_PORT = 9000
RELAY = ("import fcntl,os,socket,sys,threading\n"
         "target = (sys.argv[1], int(sys.argv[2]))\n"
         "def pump(src, dst):\n"
         "    r, w = os.pipe(); fcntl.fcntl(w, 1031, 1 << 20)\n"  # F_SETPIPE_SZ: 1 MB a step
         "    try:\n"
         "        while n := os.splice(src.fileno(), w, 1 << 20):\n"
         "            while n: n -= os.splice(r, dst.fileno(), n)\n"
         "    except OSError: pass\n"
         "    for end in (lambda: dst.shutdown(socket.SHUT_WR), lambda: os.close(r), lambda: os.close(w)):\n"
         "        try: end()\n"
         "        except OSError: pass\n"
         "def serve(client):\n"
         "    upstream = socket.create_connection(target)\n"
         "    back = threading.Thread(target=pump, args=(upstream, client)); back.start()\n"
         "    pump(client, upstream); back.join(); client.close(); upstream.close()\n"
         "listener = socket.create_server(('', %d)); print('ready', flush=True)\n"
         "while True:\n"
         "    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()\n") % RELAY_PORT
PATHS = ("direct", "relay", "http", "connect")
HOPS = PATHS[1:]
HOP_LIMITS = {"nano_cpus": 1_000_000_000, "mem_limit": 256 << 20}  # what the proxy sidecar gets


@dataclasses.dataclass(frozen=True)
class PathFigures:
    """One payload's medians per path, and each hop's median of per-round ratios and CPU."""

    payload: str  # a loopback size name, or the registry file's URL
    medians: dict[str, float]
    paired: dict[str, float]  # median over rounds of (path / direct), both from the same round
    hop_cpu: dict[str, float]  # median CPU seconds the relay or proxy container spent per download


@dataclasses.dataclass(frozen=True)
class Hop:
    """How one path is fetched: in which container, with which FETCH mode, and whose CPU counts."""

    client: Any  # a container, or the DockerSandbox
    base: str
    mode: list[str]
    counted: Any = None  # the container in the middle, if any
    prefix: str = ""  # environment settings before a sandbox command


def _cpu_s(container: Any) -> float:
    """The container's CPU time so far (user + system); less disturbed by a loaded host than wall time."""
    return float(container.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def _downloads(size: str) -> tuple[int, int]:
    """Samples in one batch (3; 1 of 100 MB) and downloads per sample (SMALL_REQUESTS if small)."""
    return (1 if size == "100MB" else 3), (SMALL_REQUESTS if size == "small" else 1)


async def _fetch(hop: Hop, path: str, expected: int, count: int, requests: int) -> list[float]:
    argv = [f"{hop.base}{path}", str(expected), str(count), str(requests), *hop.mode]
    if isinstance(hop.client, DockerSandbox):
        result = await hop.client.exec(hop.prefix + " ".join(["python3", "/workspace/fetch.py", *argv]), 600)
        code, out = result.exit_code, result.output
    else:
        code, raw = hop.client.exec_run(["python3", "/workspace/fetch.py", *argv])
        out = raw.decode(errors="replace")
    if code != 0:
        raise RuntimeError(out[-500:])
    return [float(x) for x in json.loads(out.strip().splitlines()[-1])]


async def _round(hops: dict[str, Hop], path: str, expected: int, batch: tuple[int, int],
                 reverse: bool) -> dict[str, Any]:
    """Each hop's samples of one payload, and the CPU its middle container spent per download."""
    samples: dict[str, Any] = {}
    for name in (list(hops)[::-1] if reverse else list(hops)):
        hop = hops[name]
        used = _cpu_s(hop.counted) if hop.counted is not None else 0.0
        samples[name] = await _fetch(hop, path, expected, *batch)
        if hop.counted is not None:
            samples[name + " cpu"] = (_cpu_s(hop.counted) - used) / math.prod(batch)
    return samples


def _figures(payload: str, rounds: list[dict[str, Any]], paths: tuple[str, ...]) -> PathFigures:
    medians = {path: statistics.median(x for r in rounds for x in r[path]) for path in paths}
    paired = {path: statistics.median(statistics.median(r[path]) / statistics.median(r["direct"]) for r in rounds)
              for path in paths[1:]}
    cpu = {path: statistics.median(r[path + " cpu"] for r in rounds) for path in paths[1:]}
    return PathFigures(payload, medians, paired, cpu)


async def _loopback_rounds(hops: dict[str, Hop], sizes: list[str], runs: int) -> list[PathFigures]:
    rounds: dict[str, list[dict[str, Any]]] = {size: [] for size in sizes}
    for index in range(runs):
        for size in sizes:
            rounds[size].append(await _round(hops, f"/{size}", SIZES[size], _downloads(size), index % 2 == 1))
    return [_figures(size, rounds[size], PATHS) for size in sizes]


def _address(container: Any, network: str) -> str:
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


def _wait_for(container: Any, mark: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while mark not in container.logs().decode(errors="replace"):
        container.reload()
        if container.status in ("exited", "dead") or time.monotonic() > deadline:
            raise RuntimeError("relay did not start: " + container.logs().decode(errors="replace")[-500:])
        time.sleep(0.05)


def _direct_client(client: Any, limits: SandboxLimits, workspace: Path, **settings: Any) -> Any:
    """The container the direct path fetches from: the sandbox's CPU share, so only the path
    differs, and FETCH in the workspace it sees read-only."""
    (workspace / "fetch.py").write_text(FETCH)
    return client.containers.run(limits.image, ["sleep", "infinity"], detach=True, init=True,
                                 nano_cpus=int(limits.cpus * 1e9),
                                 volumes={str(workspace): {"bind": "/workspace", "mode": "ro"}}, **settings)


def _session_parts(client: Any, session: str) -> tuple[Any, Any]:
    """The allowlist session's proxy container and its internal (sandbox-side) network."""
    labels = {"label": [f"termagent.session={session}", "termagent.role=egress"]}
    proxy = client.containers.list(filters=labels)[0]
    inside = next(n for n in client.networks.list(filters=labels) if n.name.endswith("-in"))
    return proxy, inside


async def proxy_overhead(limits: SandboxLimits, workspace: Path, runs: int,
                         sizes: list[str]) -> tuple[list[PathFigures], float]:
    """Each loopback payload down every path, and what the allowlist session cost to start."""
    client = connect_engine()
    name = "termagent-bench-egress-" + secrets.token_hex(3)
    network = client.networks.create(name, driver="bridge")
    made: list[Any] = []
    try:
        files = " && ".join(f"head -c {SIZES[size]} /dev/urandom >/tmp/{size}" for size in sizes)
        server = client.containers.run(limits.image, ["bash", "-c", f'{files} && cd /tmp && exec python3 -c "$SERVE"'],
                                       environment={"SERVE": SERVE}, detach=True, network=name, init=True)
        direct = _direct_client(client, limits, workspace, network=name)
        made += [server, direct]
        address = _address(server, name)
        relay = client.containers.run(limits.image, ["python3", "-c", RELAY, address, "8000"], detach=True,
                                      network=name, init=True, **HOP_LIMITS)
        made.append(relay)
        policy = policy_from_settings({"mode": "allowlist", "allow": [f"{address}:8000"]})
        sandbox = DockerSandbox(dataclasses.replace(limits, egress=policy), workspace, "bench-egress")
        started = time.perf_counter()
        await sandbox.start()
        start_s = time.perf_counter() - started
        try:
            proxy, inside = _session_parts(client, "bench-egress")
            network.connect(proxy)  # the proxy reaches the server here
            inside.connect(relay)  # and the sandbox reaches the relay here
            _wait_for(relay, "ready")
            hops = {"direct": Hop(direct, f"http://{address}:8000", []),
                    "relay": Hop(sandbox, f"http://{_address(relay, inside.name)}:{RELAY_PORT}", ["noproxy"], relay),
                    "http": Hop(sandbox, f"http://{address}:8000", [], proxy),
                    "connect": Hop(sandbox, f"http://{address}:8000", ["tunnel"], proxy)}
            return await _loopback_rounds(hops, sizes, runs), start_s
        finally:
            await sandbox.close()
    finally:
        for container in made:
            container.remove(force=True)
        network.remove()


def registry_files() -> list[IndexFile]:
    """The ~10 MB files the registry figures download: a wheel from pip's index (HTTPS, through a
    CONNECT tunnel) and a .deb from apt's mirror (plain HTTP forwarding, if its sources say http)."""
    found = [file_near(INDEX_PROJECT, INDEX_SIZE), apt_file_near(INDEX_SIZE)]
    return [f for f in found if f is not None]


async def registry_overhead(limits: SandboxLimits, workspace: Path, runs: int,
                            files: list[IndexFile]) -> list[PathFigures]:
    """Each file straight from a container on Docker's default network and through the proxy."""
    client = connect_engine()
    cert = pip_cert()
    env = {}
    if cert is not None:  # a machine whose TLS is re-signed locally: trust what its pip trusts
        shutil.copyfile(cert, workspace / "ca.pem")
        env = {"SSL_CERT_FILE": "/workspace/ca.pem"}
    direct = _direct_client(client, limits, workspace, environment=env)
    policy = policy_from_settings({"mode": "allowlist", "allow": sorted({h for f in files for h in f.hosts})})
    sandbox = DockerSandbox(dataclasses.replace(limits, egress=policy), workspace, "bench-registry")
    try:
        await sandbox.start()
        proxy, _ = _session_parts(client, "bench-registry")
        prefix = "".join(f"{key}={value} " for key, value in env.items())
        hops = {"direct": Hop(direct, "", []), "proxy": Hop(sandbox, "", [], proxy, prefix)}
        figures = []
        for download in files:
            await _round(hops, download.url, download.size, (1, 1), False)  # the registry's own caches warm up
            rounds = [await _round(hops, download.url, download.size, (3, 1), index % 2 == 1) for index in range(runs)]
            figures.append(_figures(download.url, rounds, ("direct", "proxy")))
        return figures
    finally:
        await sandbox.close()
        direct.remove(force=True)


def print_proxy(figures: list[PathFigures], start_s: float, load: tuple[float, float]) -> None:
    """Medians per payload and path, the paired overhead, and the target line for 10 MB."""
    print(f"machine load (1-min average) before/after the proxy runs: {load[0]:.2f} / {load[1]:.2f}")
    for fig in figures:
        label = {"small": f"{SMALL_REQUESTS} x 16 KB, new connections",
                 "paced10MB": f"10MB sent at {PACED_RATE >> 20} MB/s"}.get(fig.payload, fig.payload)
        print_paths(label, fig)
    for ceiling in (fig for fig in figures if fig.payload == TARGET_SIZE):
        # the proxy's CPU ceiling, not a download users make: no hop, not even the bare relay, is
        # free here; the 15 % target is the registry figures' (bench_sandbox.py prints them)
        for path in HOPS:
            print(f"loopback overhead {path:<8} 10 MB: {(ceiling.paired[path] - 1) * 100:6.1f} %")
    print(f"allowlist session start (one):          {start_s * 1000:8.1f} ms")


def print_paths(label: str, fig: PathFigures) -> None:
    paths = list(fig.medians)
    row = "  ".join(f"{path} {fig.medians[path] * 1000:8.1f} ms" for path in paths)
    over = "  ".join(f"{path} {(fig.paired[path] - 1) * 100:+6.1f} %" for path in paths[1:])
    cpu = "  ".join(f"{path} {fig.hop_cpu[path] * 1000:6.2f} ms" for path in paths[1:])
    print(f"{label:>30} (median): {row}   overhead (paired): {over}   CPU in the middle per download: {cpu}")
