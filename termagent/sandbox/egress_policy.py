"""The `[sandbox.network]` allowlist: patterns parsed and checked once, no Docker here.

A pattern is a host name (`example.com`), a wildcard over one domain's subdomains
(`*.example.org`, which does not match `example.org` itself), an IP address or CIDR
(`10.1.2.3`, `10.1.0.0/16`, `[fd00::1]:8443`), each optionally with `:PORT`. Without a
port a pattern allows 80 and 443 only. Names may never reach a private, loopback,
link-local or metadata address after the proxy resolves them; an address or network the
person lists explicitly is the one exception (a name allowed AND resolving into a listed
network may connect; an IP literal may connect only when listed). Loopback, unspecified,
multicast and metadata addresses cannot be listed at all.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Union

MODES = ("none", "allowlist")
DEFAULT_PORTS = (80, 443)
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# Refused for names after resolution, unless a listed network carves an exception.
BLOCKED_RANGES: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8",
)
# Refused always, listed or not.
METADATA = ("169.254.169.254/32", "fd00:ec2::254/128")
UNLISTABLE = ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "ff00::/8",
              "::ffff:0:0/96") + METADATA

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT_SUFFIX = re.compile(r"^(.*):(\d{1,5})$")


class EgressPatternError(ValueError):
    """A pattern or setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class HostPattern:
    """One allowlist entry: exactly one of `name`, `wildcard` (the domain) or `network`."""

    text: str
    ports: tuple[int, ...]
    name: str = ""
    wildcard: str = ""
    network: IPNetwork | None = None

    def matches(self, host: str, port: int) -> bool:
        """The proxy's rule for a name, as Python: used for the prompt and in tests."""
        if port not in self.ports:
            return False
        host = host.lower().rstrip(".")
        if self.name:
            return host == self.name
        if self.wildcard:
            return host.endswith("." + self.wildcard)
        return False


@dataclass(frozen=True)
class EgressPolicy:
    """Which hosts the sandbox may reach; mode "none" means no network at all."""

    mode: str = "none"
    patterns: tuple[HostPattern, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.mode == "allowlist"

    @property
    def names(self) -> tuple[HostPattern, ...]:
        return tuple(p for p in self.patterns if p.network is None)

    @property
    def networks(self) -> tuple[HostPattern, ...]:
        return tuple(p for p in self.patterns if p.network is not None)


def parse_pattern(text: str) -> HostPattern:
    """One pattern, or EgressPatternError naming what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise EgressPatternError(f"allow pattern {text!r}: empty")
    raw = text.strip().lower()
    if "://" in raw:
        raise EgressPatternError(f"allow pattern {text!r}: give a host, not a URL (e.g. example.com:8443)")
    host, ports = _split_port(raw, text)
    network = _as_network(host, text)
    if network is not None:
        _check_listable(network, text)
        return HostPattern(text=text.strip(), ports=ports, network=network)
    if "/" in host:
        raise EgressPatternError(f"allow pattern {text!r}: give a host, not a path (e.g. example.com:8443)")
    if host.startswith("*."):
        domain = _check_name(host[2:], text)
        if "." not in domain:
            raise EgressPatternError(f"allow pattern {text!r}: a wildcard needs a domain with a dot (*.example.org)")
        return HostPattern(text=text.strip(), ports=ports, wildcard=domain)
    return HostPattern(text=text.strip(), ports=ports, name=_check_name(host, text))


def _split_port(raw: str, text: str) -> tuple[str, tuple[int, ...]]:
    """`host[:port]` (IPv6 with a port in brackets); the ports that pattern allows."""
    if raw.startswith("["):
        inside, _, rest = raw[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise EgressPatternError(f"allow pattern {text!r}: expected [ADDRESS]:PORT")
        return inside, (_port(rest[1:], text),) if rest else DEFAULT_PORTS
    if raw.count(":") > 1:  # a bare IPv6 address or network: no port
        return raw, DEFAULT_PORTS
    match = _PORT_SUFFIX.match(raw)
    if match:
        return match.group(1), (_port(match.group(2), text),)
    if ":" in raw:
        raise EgressPatternError(f"allow pattern {text!r}: the port must be a number (host:PORT)")
    return raw, DEFAULT_PORTS


def _port(digits: str, text: str) -> int:
    if not digits.isdigit() or not 1 <= int(digits) <= 65535:
        raise EgressPatternError(f"allow pattern {text!r}: port must be 1-65535")
    return int(digits)


def _as_network(host: str, text: str) -> IPNetwork | None:
    if not re.fullmatch(r"[0-9a-f:.]+(/\d{1,3})?", host) or not (":" in host or re.fullmatch(r"[0-9./]+", host)):
        return None
    try:
        return ipaddress.ip_network(host, strict=True)
    except ValueError as exc:
        raise EgressPatternError(f"allow pattern {text!r}: not a valid address or network ({exc})") from None


def _check_listable(network: IPNetwork, text: str) -> None:
    for refused in UNLISTABLE:
        other = ipaddress.ip_network(refused)
        if other.version == network.version and network.overlaps(other):
            raise EgressPatternError(
                f"allow pattern {text!r}: overlaps {refused} (loopback, unspecified, multicast or cloud "
                "metadata), which the sandbox can never reach")


def _check_name(host: str, text: str) -> str:
    name = host.rstrip(".")
    if not name or len(name) > 253:
        raise EgressPatternError(f"allow pattern {text!r}: not a host name")
    if not name.isascii():
        raise EgressPatternError(f"allow pattern {text!r}: write an international name in its ASCII (xn--) form")
    labels = name.split(".")
    if "*" in name:
        raise EgressPatternError(f"allow pattern {text!r}: '*' is allowed only as a leading '*.'")
    if any(not _LABEL.match(label) for label in labels):
        raise EgressPatternError(f"allow pattern {text!r}: not a host name (letters, digits, '-' and dots)")
    if labels[-1].isdigit():
        raise EgressPatternError(f"allow pattern {text!r}: looks like a partial IP address, not a host name")
    return name


def merge_network(base: dict[str, Any], layer: Any, source: str) -> dict[str, Any]:
    """One config layer's `[sandbox.network]` over the ones before: mode replaced, allow added.

    Raises EgressPatternError with `source` in the message for unknown keys, wrong types
    or bad patterns, so a broken file is named with what is wrong in it.
    """
    if not isinstance(layer, dict):
        raise EgressPatternError(f"config error in {source}: [sandbox.network] must be a table")
    merged = {"mode": base.get("mode", "none"), "allow": list(base.get("allow", []))}
    for key, value in layer.items():
        if key == "mode":
            if value not in MODES:
                raise EgressPatternError(f"config error in {source}: sandbox.network.mode {value!r} is not "
                                         "'none' or 'allowlist'")
            merged["mode"] = value
        elif key == "allow":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise EgressPatternError(f"config error in {source}: sandbox.network.allow must be a list of strings")
            for pattern in value:
                try:
                    parse_pattern(pattern)
                except EgressPatternError as exc:
                    raise EgressPatternError(f"config error in {source}: sandbox.network.{exc}") from None
            merged["allow"] += [v for v in value if v not in merged["allow"]]
        else:
            raise EgressPatternError(f"config error in {source}: unknown key sandbox.network.{key} (mode, allow)")
    return merged


def policy_from_settings(settings: dict[str, Any]) -> EgressPolicy:
    """The policy a validated `[sandbox.network]` table describes."""
    mode = str(settings.get("mode", "none"))
    if mode not in MODES:
        raise EgressPatternError(f"sandbox.network.mode {mode!r} is not 'none' or 'allowlist'")
    patterns = tuple(parse_pattern(p) for p in settings.get("allow", []))
    if mode == "allowlist" and not patterns:
        raise EgressPatternError("sandbox.network.mode is 'allowlist' but sandbox.network.allow is empty; "
                                 "list the hosts (or use --allow-host HOST)")
    return EgressPolicy(mode, patterns if mode == "allowlist" else ())


def prompt_note(policy: EgressPolicy) -> str:
    """What the model is told (stable for the session): which hosts it may reach, and how."""
    if not policy.enabled:
        return ""
    hosts = ", ".join(_describe(p) for p in policy.patterns)
    return ("Network: the sandbox has no network except an HTTP/HTTPS proxy (already set in HTTP_PROXY, "
            f"HTTPS_PROXY and their lowercase forms) that lets commands reach only: {hosts}. There is no DNS "
            "inside the sandbox, so tools must use the proxy (pip, npm, curl, git over https and Python urllib "
            "do); any other host, address or port is refused, and every connection is audited.")


def with_network_note(system: str, settings: dict[str, Any]) -> str:
    """The system prompt with the allowlist note appended (unchanged, byte for byte, in mode none)."""
    if settings.get("mode") != "allowlist":
        return system
    note = prompt_note(policy_from_settings(settings))
    return system.rstrip("\n") + "\n\n" + note + "\n"


def network_warnings(settings: dict[str, Any]) -> list[str]:
    """The line a person sees at session start when the sandbox has any network at all."""
    if settings.get("mode") != "allowlist":
        return []
    return ["sandbox network: allowlist through the egress proxy: " + ", ".join(settings.get("allow", []))
            + " (every connection is audited)"]


def _describe(pattern: HostPattern) -> str:
    ports = "/".join(str(p) for p in pattern.ports)
    if pattern.network is not None:
        return f"{pattern.network} (port {ports})"
    return f"{pattern.name or '*.' + pattern.wildcard} (port {ports})"
