"""Shared fixtures for tests that need a real Docker engine and the sandbox image.

Locally, a machine without Docker skips these tests; under CI=true a missing engine
or image fails them, so the security suite can never pass by not running.

The canary kit makes attacks observable: a fake HOME holding secrets, an API key in
the environment, and a TCP/UDP listener on the Docker bridge gateway that counts every
connection or datagram that reaches it. Tests assert on those effects.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import ipaddress
import os
import secrets
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from termagent.config import DEFAULTS, Config
from termagent.sandbox.base import SandboxUnavailable

__all__ = [
    "canary_env",
    "canary_home",
    "docker_client",
    "gateway_listener",
    "sandbox_config",
    "sandbox_factory",
    "shared_sandbox",
    "shared_workspace",
]

# Small enough that an out-of-memory test is quick, big enough for the full-/tmp test.
TEST_MEMORY = "768m"


def make_config(**sandbox: Any) -> Config:
    """A config from the defaults only (no user files), with [sandbox] overrides."""
    settings = {"memory": TEST_MEMORY, "allow_root": os.getuid() == 0, **sandbox}
    return Config(copy.deepcopy(DEFAULTS), ("defaults",)).with_overrides({"sandbox": settings})


def _unavailable(reason: str) -> None:
    message = f"{reason} (prepare with scripts/ci-prepare-docker.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A docker client whose engine answered and which has the sandbox image."""
    from termagent.sandbox.engine import connect_engine, require_image

    try:
        client = connect_engine()
        require_image(client, DEFAULTS["sandbox"]["image"])
    except SandboxUnavailable as exc:
        _unavailable(str(exc))
    yield client
    remove_run_containers(client)


def run_labels() -> dict[str, str]:
    """Labels a test puts on a container it starts itself, so only this run sees it."""
    from termagent.sandbox.docker_settings import LABEL_TEST_RUN
    from termagent.sandbox.reaper import test_run

    return {LABEL_TEST_RUN: test_run()}


def label_terms(labels: dict[str, str]) -> list[str]:
    """`key=value` terms for a Docker label filter."""
    return [f"{key}={value}" for key, value in labels.items()]


def remove_run_containers(client: Any) -> None:
    """Remove what this run left behind (never another run's containers)."""
    from termagent.sandbox.docker_settings import LABEL_TEST_RUN
    from termagent.sandbox.reaper import test_run

    if not test_run():
        return
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_TEST_RUN}={test_run()}"}):
        try:
            container.remove(force=True)
        except Exception:
            continue
    for volume in client.volumes.list(filters={"label": f"{LABEL_TEST_RUN}={test_run()}"}):  # cache volumes
        try:
            volume.remove(force=True)
        except Exception:
            continue


@pytest.fixture(scope="session")
def sandbox_config() -> Config:
    return make_config()


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def make_workspace(root: Path) -> Path:
    """A real git repository with one commit and a project config file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("hello\n")
    (root / ".termagent").mkdir()
    (root / ".termagent" / "config.toml").write_text('[permissions]\nmode = "ask"\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "init")
    return root


@pytest.fixture(scope="session")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("shared-ws") / "ws")


@pytest.fixture(scope="session")
def shared_sandbox(docker_client: Any, sandbox_config: Config, shared_workspace: Path) -> Iterator[Any]:
    """One started DockerSandbox for every test that leaves it as it found it.

    Loop-independent (its blocking calls run in threads), so function-scoped async
    tests can await its methods from their own event loops.
    """
    from termagent.sandbox.docker_backend import DockerSandbox
    from termagent.sandbox.docker_settings import limits_from_config

    sandbox = DockerSandbox(limits_from_config(sandbox_config), shared_workspace, "shared-" + secrets.token_hex(4))
    asyncio.run(sandbox.start())
    try:
        yield sandbox
    finally:
        asyncio.run(sandbox.close())


@pytest.fixture
async def sandbox_factory(docker_client: Any) -> AsyncIterator[Any]:
    """`await make(workspace, **sandbox_overrides)` -> a started DockerSandbox, closed after the test."""
    from termagent.sandbox.docker_backend import DockerSandbox
    from termagent.sandbox.docker_settings import limits_from_config

    made: list[Any] = []

    async def make(workspace: Path, **overrides: Any) -> Any:
        sandbox = DockerSandbox(limits_from_config(make_config(**overrides)), workspace,
                                "test-" + secrets.token_hex(4))
        made.append(sandbox)
        await sandbox.start()
        return sandbox

    yield make
    for sandbox in made:
        await sandbox.close()


@dataclass(frozen=True)
class CanaryHome:
    """A fake host HOME with secrets whose bytes must never be seen or changed."""

    home: Path
    files: dict[Path, bytes] = field(default_factory=dict)

    def unchanged(self) -> bool:
        return all(path.read_bytes() == data for path, data in self.files.items())

    def secrets(self) -> list[str]:
        return [data.decode() for data in self.files.values()]


@pytest.fixture
def canary_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CanaryHome:
    home = tmp_path / "canary-home"
    files = {
        home / ".ssh" / "id_canary": f"-----BEGIN CANARY KEY-----\n{secrets.token_hex(16)}\n".encode(),
        home / ".aws" / "credentials": f"[default]\naws_secret_access_key = canary{secrets.token_hex(12)}\n".encode(),
        home / ".netrc": f"machine example.invalid login canary password canary{secrets.token_hex(8)}\n".encode(),
        home / ".docker" / "config.json": b'{"auths": {"x": {"auth": "%s"}}}'
        % base64.b64encode(f"canary:{secrets.token_hex(8)}".encode()),
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    monkeypatch.setenv("HOME", str(home))
    return CanaryHome(home, files)


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Secret-looking variables in termagent's own environment; none may reach a command."""
    values = {
        "ANTHROPIC_API_KEY": "sk-canary-" + secrets.token_hex(12),
        "TERMAGENT_CANARY_HOST_VAR": "hostvar-" + secrets.token_hex(8),
        "SSH_AUTH_SOCK": "/tmp/canary-agent.sock",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


class GatewayListener:
    """Counts TCP connections and UDP datagrams that reach the Docker bridge gateway."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.tcp = socket.create_server((host, 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, self.port))
        self.tcp_hits = 0
        self.udp_hits = 0
        self._markers: dict[int, threading.Event] = {}  # source port -> the host's own barrier probe
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def hits(self) -> int:
        return self.tcp_hits + self.udp_hits

    def _accept(self) -> None:
        self.tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            conn.close()
            self._count(peer, "tcp_hits")

    def _receive(self) -> None:
        self.udp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                _, peer = self.udp.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            self._count(peer, "udp_hits")

    def _count(self, peer: tuple[str, int], counter: str) -> None:
        marker = self._markers.pop(peer[1], None)  # by port: the engine's NAT may rewrite the address
        if marker is not None:
            marker.set()
        else:
            setattr(self, counter, getattr(self, counter) + 1)

    def barrier(self, timeout_s: float = 30.0) -> None:
        """Return once everything that reached the listener before this call is counted: a probe
        connection and datagram from the host go through the same accept and receive queues
        after them (and are not counted as hits). A "nothing arrived" check waits on this."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((self.host, 0))  # its address is known (and expected) before it connects
            tcp_marker = self._expect(probe.getsockname())
            probe.settimeout(timeout_s)
            probe.connect((self.host, self.port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self.host, 0))
            udp_marker = self._expect(probe.getsockname())
            probe.sendto(b"barrier", (self.host, self.port))
        assert tcp_marker.wait(timeout_s) and udp_marker.wait(timeout_s), "the listener never saw its own probes"

    def _expect(self, address: tuple[str, int]) -> threading.Event:
        marker = self._markers[address[1]] = threading.Event()
        return marker

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self.tcp.close()
        self.udp.close()


def bridge_gateway(client: Any) -> str:
    """The host's address on the default bridge: the engine's gateway, else docker0's own address."""
    attrs = client.networks.get("bridge").attrs
    configs = attrs.get("IPAM", {}).get("Config") or []
    for entry in configs:
        if entry.get("Gateway"):
            return str(entry["Gateway"])
    name = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    address = interface_address(name)
    if address:
        return address
    for entry in configs:
        if entry.get("Subnet", "").count(".") == 3:
            return str(next(ipaddress.ip_network(entry["Subnet"]).hosts()))
    _unavailable("the Docker bridge network has no gateway address")
    raise AssertionError("unreachable")


def interface_address(name: str) -> str | None:
    """IPv4 address of a host network interface (SIOCGIFADDR), or None."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


@pytest.fixture(scope="session")
def gateway_listener(docker_client: Any) -> Iterator[GatewayListener]:
    listener = GatewayListener(bridge_gateway(docker_client))
    try:
        yield listener
    finally:
        listener.close()
