"""The machine's package indexes, pip's and apt's, read from their configuration at run time.

The egress tests and the proxy benchmark reach real registries through the proxy; which
ones, and whether TLS to them is re-signed locally, is this machine's business, so no host
is written down here: pip's configuration names its index (else pip's own default does),
apt's sources name its mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


def pip_setting(name: str) -> str:
    """One setting of the machine's pip (PIP_NAME, else `pip config list`), "" when unset."""
    value = os.environ.get("PIP_" + name.upper().replace("-", "_"), "")
    if value:
        return value
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60)
    for line in done.stdout.splitlines():
        key, _, raw = line.partition("=")
        if key.endswith("." + name) and raw.strip().strip("'\""):
            return raw.strip().strip("'\"").split()[0]
    return ""


def pip_index() -> tuple[str, list[str]] | None:
    """The index the machine's pip uses (its configuration, else pip's built-in default), and its hosts."""
    configured = pip_setting("index-url")
    if configured:
        host = urllib.parse.urlsplit(configured).hostname
        return (configured, [host]) if host else None
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    hosts = [urllib.parse.urlsplit(PyPI.simple_url).hostname or "", PyPI.file_storage_domain]
    return PyPI.simple_url, [h for h in hosts if h]


def pip_cert() -> Path | None:
    """The CA bundle pip is told to trust (a machine whose TLS is re-signed locally names one)."""
    cert = pip_setting("cert")
    return Path(cert) if cert and Path(cert).is_file() else None


@dataclass(frozen=True)
class IndexFile:
    """One file on the index: where it is, its size, and every host a download of it touches."""

    url: str
    size: int
    hosts: tuple[str, ...]


def file_near(project: str, size: int) -> IndexFile | None:
    """The file of PROJECT whose size is nearest SIZE, from the index's JSON listing (PEP 691/700),
    or None when the index has no such listing."""
    index = pip_index()
    if index is None:
        return None
    base, hosts = index
    request = urllib.request.Request(base.rstrip("/") + f"/{project}/", headers={"Accept": JSON_SIMPLE})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            listing = json.load(response)
    except (OSError, ValueError):
        return None
    sized = [f for f in listing.get("files", []) if isinstance(f.get("size"), int)]
    if not sized:
        return None
    chosen = min(sized, key=lambda f: abs(f["size"] - size))
    url = urllib.parse.urljoin(base.rstrip("/") + f"/{project}/", chosen["url"])
    host = urllib.parse.urlsplit(url).hostname or ""
    return IndexFile(url, chosen["size"], tuple(dict.fromkeys([*hosts, host])))


def apt_file_near(size: int) -> IndexFile | None:
    """The package on the machine's apt mirror whose .deb size is nearest SIZE, or None
    without apt or its package lists."""
    if shutil.which("apt-cache") is None:
        return None
    listing = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, timeout=120).stdout
    sizes: dict[str, int] = {}
    name = ""
    for line in listing.splitlines():
        key, _, value = line.partition(": ")
        if key == "Package":
            name = value.strip()
        elif key == "Size" and value.strip().isdigit():
            sizes[name] = int(value)
    if not sizes:
        return None
    chosen = min(sizes, key=lambda package: abs(sizes[package] - size))
    printed = subprocess.run(["apt-get", "download", "--print-uris", chosen], capture_output=True, text=True,
                             timeout=120).stdout.split()
    if len(printed) < 3 or not printed[2].isdigit():
        return None
    url = printed[0].strip("'")
    return IndexFile(url, int(printed[2]), (urllib.parse.urlsplit(url).hostname or "",))
