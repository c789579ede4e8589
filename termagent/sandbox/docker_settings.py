"""The container settings that make the sandbox a sandbox, in one place.

Each setting answers an attack in SECURITY-CASES.md: no network (egress), read-only
root and read-only `.git`/`.termagent` (planted hooks, widened config), dropped
capabilities and no-new-privileges (sudo, setuid, mount), pids/memory/CPU/ulimits
(fork bombs, 8 GB allocations, huge files), an allowlisted environment (secrets).
Kept free of Docker calls so the settings can be read and tested on their own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from termagent.config import Config

WORKSPACE = "/workspace"
HOME = "/home/agent"
STATE_DIR = "/run/termagent"
# A single file written inside the sandbox (workspace included) may not exceed this:
# RLIMIT_FSIZE turns a runaway `yes > big` into EFBIG instead of a full host disk.
MAX_FILE_BYTES = 1 << 30
HOME_TMPFS_SIZE = "128m"

LABEL_SESSION = "termagent.session"
LABEL_PID = "termagent.pid"
LABEL_PID_START = "termagent.pid_start"
LABEL_HOST = "termagent.host"
LABEL_WORKSPACE = "termagent.workspace"
LABEL_RECIPE = "termagent.recipe"

# The whole environment a command sees: nothing from the host, no credentials.
ENV_ALLOWLIST: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "dumb",
    "TMPDIR": "/tmp",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "NO_COLOR": "1",
    "DEBIAN_FRONTEND": "noninteractive",
    "PIP_NO_INPUT": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes in a Docker-style size ("2g", "256m", "512k", or a plain number)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 512m or 2g)")
    number, unit = match.groups()
    power = " kmgt".index(unit.lower() or " ")
    return int(float(number) * 1024**power)


@dataclass(frozen=True)
class SandboxLimits:
    """The `[sandbox]` config section, validated once."""

    image: str
    memory: str
    pids: int
    cpus: float
    nofile: int
    tmpfs_size: str
    timeout_default_s: int
    timeout_max_s: int
    output_cap_bytes: int

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


def limits_from_config(config: Config) -> SandboxLimits:
    section = config.section("sandbox")
    limits = SandboxLimits(
        image=str(section["image"]),
        memory=str(section["memory"]),
        pids=int(section["pids"]),
        cpus=float(section["cpus"]),
        nofile=int(section["nofile"]),
        tmpfs_size=str(section["tmpfs_size"]),
        timeout_default_s=int(section["timeout_default_s"]),
        timeout_max_s=int(section["timeout_max_s"]),
        output_cap_bytes=int(section["output_cap_bytes"]),
    )
    parse_size(limits.memory)
    parse_size(limits.tmpfs_size)
    return limits


def protected_mounts(workspace: Path) -> list[tuple[str, str]]:
    """(host path, container path) of workspace entries re-mounted read-only.

    Only real files and directories: a symlinked `.git` would make Docker mount
    whatever it points to, which is exactly what the sandbox must not see.
    """
    pairs = []
    for name in (".git", ".termagent"):
        path = workspace / name
        if path.exists() and not path.is_symlink():
            pairs.append((str(path), f"{WORKSPACE}/{name}"))
    return pairs


def run_kwargs(limits: SandboxLimits, workspace: Path, labels: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for `client.containers.run(detach=True, ...)`."""
    from docker.types import Mount, Ulimit

    mounts = [Mount(target=WORKSPACE, source=str(workspace), type="bind", read_only=False)]
    mounts += [Mount(target=dst, source=src, type="bind", read_only=True) for src, dst in protected_mounts(workspace)]
    tmpfs_opts = "rw,exec,nosuid,nodev"
    return {
        "image": limits.image,
        "command": ["sleep", "infinity"],
        "detach": True,
        "init": True,
        "network_mode": "none",
        "read_only": True,
        "mounts": mounts,
        "tmpfs": {
            "/tmp": f"{tmpfs_opts},size={limits.tmpfs_size},mode=1777",
            HOME: f"{tmpfs_opts},size={HOME_TMPFS_SIZE},mode=0700,uid={os.getuid()},gid={os.getgid()}",
            STATE_DIR: "rw,noexec,nosuid,nodev,size=1m,mode=1777",
        },
        "working_dir": WORKSPACE,
        "user": f"{os.getuid()}:{os.getgid()}",
        "environment": dict(ENV_ALLOWLIST),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": limits.pids,
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "nano_cpus": int(limits.cpus * 1_000_000_000),
        "ulimits": [
            Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
            Ulimit(name="core", soft=0, hard=0),
            Ulimit(name="fsize", soft=MAX_FILE_BYTES, hard=MAX_FILE_BYTES),
        ],
        "labels": labels,
        "stdin_open": False,
        "tty": False,
    }
