"""The sandbox's network: none, or an internal network whose only way out is a squid sidecar.

In allowlist mode each session gets two Docker networks: an `--internal` one (no route
out, no gateway) that the sandbox joins, and an ordinary bridge for the proxy alone. The
proxy container sits on both; the sandbox's environment names it in HTTP(S)_PROXY, and
the sandbox has no DNS resolver (its resolv.conf points at an address where nothing
listens), so a program that ignores the proxy has nowhere to go. The proxy's access log
becomes audit rows (tool "egress"). Everything is labelled like the sandbox container,
removed at session end, and reaped by a later start when its owner died.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from termagent.sandbox.base import SandboxUnavailable
from termagent.sandbox.egress_policy import EgressPolicy
from termagent.sandbox.reaper import is_stale, run_filters
from termagent.sandbox.squid_conf import PROXY_PORT, EgressRecord, parse_log_line, render

PROXY_IMAGE = "termagent-proxy:latest"
PROXY_IMAGE_ENV = "TERMAGENT_PROXY_IMAGE"
LABEL_ROLE = "termagent.role"
READY_MARK = "Accepting HTTP Socket connections"
READY_TIMEOUT_S = 60.0
# glibc's resolver then asks 127.0.0.1:53 inside the sandbox, where nothing listens
# (Docker's embedded resolver is at 127.0.0.11): name lookups fail at once.
NO_DNS = "127.0.0.1"
NO_PROXY = "localhost,127.0.0.1,::1"
START_SQUID = 'printf "%s" "$TERMAGENT_SQUID_CONF" >/tmp/squid.conf && exec squid -N -f /tmp/squid.conf'

AuditWriter = Callable[[EgressRecord], None]


def audit_writer(store: Any, session_id: str) -> AuditWriter | None:
    """Each proxied connection as an audit row: tool "egress", decided by the proxy."""
    if store is None:
        return None

    def write(record: EgressRecord) -> None:
        reason = record.status + (f" via {record.server}" if record.server else "")
        outcome = f"received {record.bytes_out} bytes, sent {record.bytes_in} bytes"
        store.record_audit(session_id, f"egress-{record.at:.3f}", "egress",
                           {"host": record.host, "port": record.port, "method": record.method},
                           record.decision, "proxy", reason, outcome)

    return write


def proxy_image() -> str:
    return os.environ.get(PROXY_IMAGE_ENV) or PROXY_IMAGE


def _name(session_id: str, token: str, part: str) -> str:
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", session_id)[:24]
    return f"termagent-egress-{safe}-{token}-{part}"


@dataclass
class Egress:
    """One session's egress; in mode none it changes nothing and touches no Docker object."""

    policy: EgressPolicy
    session_id: str
    labels: dict[str, str]
    audit: AuditWriter | None = None
    env: dict[str, str] = field(default_factory=dict)
    proxy_address: str = ""
    _client: Any = None
    _networks: list[Any] = field(default_factory=list)
    _proxy: Any = None
    _seen: int = 0

    def run_overrides(self) -> dict[str, Any]:
        """What changes in the sandbox container's run kwargs (nothing in mode none)."""
        if not self.policy.enabled:
            return {}
        return {"network_mode": self._networks[0].name, "dns": [NO_DNS], "dns_search": ["."]}

    def container_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The sandbox's run kwargs with this egress applied (unchanged in mode none)."""
        if not self.policy.enabled:
            return kwargs
        return {**kwargs, **self.run_overrides(), "environment": {**kwargs.get("environment", {}), **self.env}}

    def start(self, client: Any) -> None:
        """Networks and a ready proxy, or SandboxUnavailable (with nothing left behind)."""
        self._client = client
        reap_stale_networks(client)
        if not self.policy.enabled:
            return
        _require_proxy_image(client)
        token = secrets.token_hex(3)
        labels = {**self.labels, LABEL_ROLE: "egress"}
        try:
            self._networks.append(client.networks.create(_name(self.session_id, token, "in"), driver="bridge",
                                                         internal=True, labels=labels, check_duplicate=True))
            self._networks.append(client.networks.create(_name(self.session_id, token, "out"), driver="bridge",
                                                         labels=labels, check_duplicate=True))
            self._proxy = client.containers.run(name=_name(self.session_id, token, "proxy"),
                                                **proxy_kwargs(self.policy, self._networks[1].name, labels))
            self._networks[0].connect(self._proxy)
            self.proxy_address = self._address_on(self._networks[0].name)
            self._wait_ready()
        except SandboxUnavailable:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise SandboxUnavailable(f"the egress proxy could not start: {_brief(exc)}") from None
        url = f"http://{self.proxy_address}:{PROXY_PORT}"
        self.env = {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
                    "NO_PROXY": NO_PROXY, "no_proxy": NO_PROXY}

    def _address_on(self, network: str) -> str:
        self._proxy.reload()
        address = self._proxy.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        if not address:
            raise SandboxUnavailable("the egress proxy got no address on the sandbox network")
        return str(address)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._proxy.reload()
            logs = self._proxy.logs(stdout=False, stderr=True).decode(errors="replace")
            if READY_MARK in logs:
                return
            if self._proxy.status in ("exited", "dead"):
                raise SandboxUnavailable("the egress proxy exited: " + logs.strip()[-500:])
            time.sleep(0.05)
        raise SandboxUnavailable(f"the egress proxy was not ready within {READY_TIMEOUT_S:g}s")

    def collect(self) -> list[EgressRecord]:
        """Connections logged since the last call, each written to the audit log once."""
        if self._proxy is None:
            return []
        try:
            lines = self._proxy.logs(stdout=True, stderr=False).decode(errors="replace").splitlines()
        except Exception:
            return []
        records = [r for r in (parse_log_line(line) for line in lines) if r is not None]
        new, self._seen = records[self._seen:], len(records)
        if self.audit is not None:
            for record in new:
                self.audit(record)
        return new

    def close(self) -> None:
        """Collect the last log lines, then remove the proxy and both networks. Never raises."""
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            self._proxy = proxy
            self.collect()
            self._proxy = None
            _quietly(lambda: proxy.remove(force=True))
        for network in reversed(self._networks):
            _quietly(network.remove)
        self._networks = []

    def describe(self) -> dict[str, Any]:
        if not self.policy.enabled:
            return {"network": "none"}
        return {"network": "allowlist", "allow": [p.text for p in self.policy.patterns],
                "proxy": f"{self.proxy_address}:{PROXY_PORT}" if self.proxy_address else None}


def proxy_kwargs(policy: EgressPolicy, network: str, labels: dict[str, str]) -> dict[str, Any]:
    """The sidecar's settings: squid as its own unprivileged user, nothing else allowed."""
    tmpfs = "rw,noexec,nosuid,nodev,size=16m"
    return {
        "image": proxy_image(),
        "command": ["bash", "-c", START_SQUID],
        "environment": {"TERMAGENT_SQUID_CONF": render(policy)},
        "detach": True,
        "init": True,
        "network": network,
        "read_only": True,
        "tmpfs": {"/tmp": tmpfs, "/run": tmpfs, "/var/spool/squid": tmpfs, "/var/cache/squid": tmpfs,
                  "/var/log/squid": tmpfs},
        "user": "proxy",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 64,
        "mem_limit": 256 * 1024 * 1024,
        "memswap_limit": 256 * 1024 * 1024,
        "nano_cpus": 1_000_000_000,
        "labels": labels,
        "stdin_open": False,
        "tty": False,
    }


def _require_proxy_image(client: Any) -> None:
    import docker.errors

    try:
        client.images.get(proxy_image())
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"the egress proxy image {proxy_image()} is not built (sandbox.network.mode = allowlist needs it). "
            "Build it with: termagent sandbox build (or scripts/build-proxy-image.sh)") from None


def reap_stale_networks(client: Any) -> list[str]:
    """Remove egress networks whose session died (their containers went with reap_stale)."""
    removed: list[str] = []
    try:
        networks = client.networks.list(filters=run_filters())
    except Exception:
        return removed
    for network in networks:
        labels = network.attrs.get("Labels") or {}
        if labels.get(LABEL_ROLE) == "egress" and is_stale(labels):
            try:
                network.remove()
                removed.append(network.name)
            except Exception:
                continue
    return removed


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:
        pass


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
