"""squid.conf for the egress sidecar, and the parser for its access log.

Squid, not a home-made proxy: its `dst` ACL checks the addresses squid itself resolved
(every address of the answer: one private address denies the request), it forwards to
addresses from the same cache, it tunnels CONNECT, and its access log records bytes
both ways. Rule order matters and is the security argument:

1. the cache manager and anything that is not a listed (name, port) are denied;
2. a name is checked against the allowlist BEFORE any DNS lookup (a denied name is
   never resolved, so it cannot leak through DNS), then resolved and refused if any
   address is private, loopback, link-local or metadata, minus networks listed explicitly
   (metadata addresses can never be listed, so they stay refused);
3. an IP literal (no lookup) is allowed only inside a listed network on its ports.

Throughput: squid copies a CONNECT tunnel through a fixed 64 KB buffer, and a plain-HTTP
reply through one of HTTP_REQBUF_SZ, one write per event-loop turn; both sizes are fixed when
squid is compiled, so the proxy image carries a squid rebuilt from Debian's source with 64 KB
instead of Debian's 4 KB for the latter (sandboxes/proxy/rebuild-squid.sh; a 10 MB plain-HTTP
download from a fast mirror went from 1.8 times direct to no slower). `read_ahead_gap` lets
it read the server ahead of a slow client; the receive buffer is left to the kernel
(`tcp_recv_bufsize 0`): a fixed SO_RCVBUF switches off Linux's autotuning, and measured per
transfer squid then spent about a quarter more CPU on both paths (scripts/bench_sandbox.py
prints the proxy's CPU per transfer).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from termagent.sandbox.egress_policy import BLOCKED_RANGES, EgressPolicy, HostPattern, IPNetwork

PROXY_PORT = 3128
LOG_TAG = "TERMAGENT-EGRESS"
# time, status/code, method, host, port, server address, bytes from client, bytes to client
LOG_FORMAT = f"{LOG_TAG} %ts.%03tu %Ss/%03>Hs %rm %>rd %>rP %<a %>st %<st"

_BASE = f"""\
http_port {PROXY_PORT}
pid_filename none
cache deny all
cache_mem 8 MB
maximum_object_size_in_memory 0 KB
logformat termagent {LOG_FORMAT}
access_log stdio:/dev/stdout logformat=termagent
cache_log stdio:/dev/stderr
cache_store_log none
logfile_rotate 0
buffered_logs off
shutdown_lifetime 0 seconds
via off
forwarded_for delete
httpd_suppress_version_string on
visible_hostname termagent-egress
dns_defnames off
client_persistent_connections on
read_ahead_gap 1 MB
tcp_recv_bufsize 0
acl ip_literal dstdom_regex -n ^[0-9.]+$ ^\\[?[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\\]?$
http_access deny manager
"""


def blocked_minus_listed(listed: tuple[IPNetwork, ...]) -> list[IPNetwork]:
    """The refused ranges with every explicitly listed network cut out of them."""
    result: list[IPNetwork] = [ipaddress.ip_network(r) for r in BLOCKED_RANGES]
    for hole in listed:
        cut: list[IPNetwork] = []
        for block in result:
            if block.version != hole.version or not block.overlaps(hole):
                cut.append(block)
            elif hole.supernet_of(block):  # type: ignore[arg-type]
                continue
            else:
                cut.extend(block.address_exclude(hole))  # type: ignore[arg-type]
        result = cut
    return sorted(result, key=lambda n: (n.version, n))


def _host_acl(index: int, pattern: HostPattern) -> str:
    if pattern.name:
        return f"acl name{index} dstdomain -n {pattern.name}"
    return f"acl name{index} dstdom_regex -n -i ^([a-z0-9-]+\\.)+{re.escape(pattern.wildcard)}$"


def render(policy: EgressPolicy) -> str:
    """The whole squid.conf for one session's policy."""
    lines = [_BASE.rstrip("\n")]
    listed = tuple(p.network for p in policy.networks if p.network is not None)
    lines.append("acl to_blocked dst " + " ".join(str(n) for n in blocked_minus_listed(listed)))
    for index, pattern in enumerate(policy.names):
        lines.append(_host_acl(index, pattern))
        lines.append(f"acl name{index}_port port {' '.join(str(p) for p in pattern.ports)}")
        lines.append(f"http_access allow !ip_literal name{index} name{index}_port !to_blocked")
    for index, pattern in enumerate(policy.networks):
        lines.append(f"acl net{index} dst {pattern.network}")
        lines.append(f"acl net{index}_port port {' '.join(str(p) for p in pattern.ports)}")
        lines.append(f"http_access allow ip_literal net{index} net{index}_port")
    lines.append("http_access deny all")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class EgressRecord:
    """One connection the proxy handled: what the audit log keeps."""

    at: float
    host: str
    port: int
    decision: str  # "deny" when the policy refused it; "allow" even if the server then failed
    status: str  # squid's e.g. TCP_TUNNEL/200, TCP_DENIED/403
    method: str
    server: str  # the address squid connected to, "" when it did not
    bytes_in: int  # request bytes from the sandbox
    bytes_out: int  # reply bytes to the sandbox


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def parse_log_line(line: str) -> EgressRecord | None:
    """One access-log line in our format, or None for anything else (squid's own notes)."""
    fields = line.strip().split()
    if len(fields) != 9 or fields[0] != LOG_TAG:
        return None
    _, at, status, method, host, port, server, bytes_in, bytes_out = fields
    denied = status.startswith("TCP_DENIED")
    try:
        when = float(at)
    except ValueError:
        return None
    return EgressRecord(at=when, host=host, port=_int(port), decision="deny" if denied else "allow",
                        status=status, method=method, server="" if server == "-" else server,
                        bytes_in=_int(bytes_in), bytes_out=_int(bytes_out))
