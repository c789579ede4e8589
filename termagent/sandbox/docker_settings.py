"""The container settings that make the sandbox a sandbox, in one place.

Each setting answers an attack in SECURITY-CASES.md: no network (egress), read-only
root and read-only `.git`/`.termagent` (planted hooks, widened config), dropped
capabilities and no-new-privileges (sudo, setuid, mount), pids/memory/CPU/ulimits
(fork bombs, 8 GB allocations, huge files), an allowlisted environment (secrets).
Kept free of Docker calls so the settings can be read and tested on their own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.sandbox.egress_policy import EgressPolicy, policy_from_settings

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
LABEL_PIDNS = "termagent.pidns"
LABEL_WORKSPACE = "termagent.workspace"
LABEL_RECIPE = "termagent.recipe"
# Set (from TERMAGENT_TEST_RUN) on containers a test run starts, so a run's reaper and
# listings see only its own containers, never those of a parallel run or a real session.
LABEL_TEST_RUN = "termagent.test_run"
TEST_RUN_ENV = "TERMAGENT_TEST_RUN"

# Workspace-root directories and files that host programs run or read as configuration
# that runs programs (git, shells, direnv, pre-commit, editors, coding agents, MCP
# clients). The sandbox sees each read-only; see workspace_guard for the ones that do
# not exist yet. Compare Claude Code's sandbox-runtime "dangerous files" list.
EXECUTION_BEARING_DIRS: tuple[str, ...] = (
    ".git", ".termagent", ".githooks", ".husky", ".vscode", ".idea", ".claude", ".agents",
    ".cursor", ".devcontainer",
)
EXECUTION_BEARING_PATHS: tuple[str, ...] = EXECUTION_BEARING_DIRS + (
    ".gitmodules", ".gitconfig", ".pre-commit-config.yaml", ".mcp.json", ".envrc", ".npmrc",
    ".ripgreprc", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".kshrc", ".cshrc", ".tcshrc",
    ".inputrc",
)

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

PTRACE_SYSCALLS = ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd")

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
    allow_root: bool = False
    allow_ptrace: bool = False
    egress: EgressPolicy = EgressPolicy()
    max_jobs: int = 4  # background jobs running at once (sandbox/jobs.py)
    caches: bool = True  # per-project cache volumes (sandbox/caches.py)
    project_recipe: str = ""  # a trusted project's .termagent/sandbox directory (sandbox/project_image.py)

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
        allow_root=bool(section["allow_root"]),
        allow_ptrace=bool(section["allow_ptrace"]),
        egress=policy_from_settings(section["network"]),
        max_jobs=int(section.get("max_jobs", 4)),
        caches=bool(section.get("caches", True)),
    )
    parse_size(limits.memory)
    parse_size(limits.tmpfs_size)
    return limits


def seccomp_profile(allow_ptrace: bool) -> str:
    """Our seccomp profile (JSON text) for `security_opt`.

    Docker's default profile minus ptrace, process_vm_readv/writev, kcmp and pidfd_getfd
    (a command could attach to the keeper and outlive its command), and with chmod,
    mknod and file creation refused when the mode carries setuid/setgid bits (such a file
    in the workspace would be a privilege gift on the host). openat2 answers ENOSYS so
    callers fall back to openat, whose mode can be checked. `allow_ptrace` (a project
    that needs gdb or strace) puts the ptrace family back.
    """
    from importlib.resources import files

    text = files("termagent.sandbox").joinpath("seccomp.json").read_text(encoding="utf-8")
    if not allow_ptrace:
        return text
    profile = json.loads(text)
    profile["syscalls"].append({"names": list(PTRACE_SYSCALLS), "action": "SCMP_ACT_ALLOW"})
    return json.dumps(profile)


def sandbox_user(limits: SandboxLimits) -> str:
    """The uid:gid commands run as: the host user's, so files keep their owner.

    Root is refused unless allowed: a uid-0 sandbox writes root-owned files into the
    workspace, and any kernel or engine flaw is one step from host root.
    """
    uid, gid = os.getuid(), os.getgid()
    if uid == 0 and not limits.allow_root:
        raise SandboxRootRefused(
            "termagent is running as root, and the sandbox runs commands as your uid, so they would run "
            "as root (uid 0) in the container. Run termagent as an ordinary user, or accept it with "
            "--sandbox-allow-root (or sandbox.allow_root = true in your user config, or "
            "TERMAGENT_SANDBOX_ALLOW_ROOT=1)."
        )
    return f"{uid}:{gid}"


class SandboxRootRefused(ValueError):
    """The host user is root and nobody allowed a root sandbox."""


def run_kwargs(limits: SandboxLimits, workspace: Path, labels: dict[str, str],
               read_only: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """Keyword arguments for `client.containers.run(detach=True, ...)`.

    `read_only` holds (host path, container path) pairs mounted read-only over the
    workspace (see workspace_guard.plan_guard).
    """
    from docker.types import Mount, Ulimit

    mounts = [Mount(target=WORKSPACE, source=str(workspace), type="bind", read_only=False)]
    mounts += [Mount(target=dst, source=src, type="bind", read_only=True) for src, dst in read_only]
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
        "user": sandbox_user(limits),
        "environment": dict(ENV_ALLOWLIST),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges", "seccomp=" + seccomp_profile(limits.allow_ptrace)],
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
