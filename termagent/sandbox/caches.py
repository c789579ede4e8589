"""Per-project cache volumes: a second `pip install` (npm, cargo, go, uv) starts warm.

HOME in the sandbox is an empty tmpfs, so every session would fetch and build the same
packages again. With `[sandbox] caches = true` (the default) a few Docker volumes,
named by a hash of the workspace path and labelled `termagent.cache`, are mounted at
the sandbox user's cache directories, and the tools are pointed at them through their
cache variables only (never CARGO_HOME as a whole, which also holds credentials and
config: just its registry/ and git/ caches are mounted).

What they hold: whatever package managers put in their caches. Never the workspace
(not mounted there, and it is not copied) and no secret (the sandbox has none to
write). A project's caches are shared by its sessions only, so what one session's
commands leave in them (a poisoned wheel, say) reaches later sessions of the same
project and no other: `termagent sandbox prune` empties them. The volumes' roots are
opened to the sandbox user (mode 1777) by one fixed `chmod` run as the container's
(capability-less) root right after start, before any command.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.sandbox.docker_settings import HOME, LABEL_TEST_RUN, LABEL_WORKSPACE

LABEL_CACHE = "termagent.cache"
CACHE_HOME = f"{HOME}/.cache"
CARGO_DIR = f"{HOME}/.cargo"

# (kind, mount point): one volume each.
CACHE_MOUNTS: tuple[tuple[str, str], ...] = (
    ("cache", CACHE_HOME),  # pip, npm, uv, go (see CACHE_ENV)
    ("cargo-registry", f"{CARGO_DIR}/registry"),
    ("cargo-git", f"{CARGO_DIR}/git"),
)

CACHE_ENV: dict[str, str] = {
    "XDG_CACHE_HOME": CACHE_HOME,
    "PIP_CACHE_DIR": f"{CACHE_HOME}/pip",
    "npm_config_cache": f"{CACHE_HOME}/npm",
    "UV_CACHE_DIR": f"{CACHE_HOME}/uv",
    "GOMODCACHE": f"{CACHE_HOME}/go/mod",
    "GOCACHE": f"{CACHE_HOME}/go/build",
}


@dataclass(frozen=True)
class CacheVolume:
    kind: str
    name: str
    target: str


def workspace_key(workspace: Path) -> str:
    return hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:16]


def cache_volumes(workspace: Path) -> tuple[CacheVolume, ...]:
    key = workspace_key(workspace)
    return tuple(CacheVolume(kind, f"termagent-cache-{key}-{kind}", target) for kind, target in CACHE_MOUNTS)


def _labels(workspace: Path, kind: str) -> dict[str, str]:
    from termagent.sandbox.reaper import test_run

    labels = {LABEL_CACHE: kind, LABEL_WORKSPACE: str(workspace.resolve())}
    if test_run():
        labels[LABEL_TEST_RUN] = test_run()
    return labels


def ensure_volumes(client: Any, workspace: Path) -> tuple[CacheVolume, ...]:
    """Create the project's cache volumes that do not exist yet; returns all of them."""
    import docker.errors

    volumes = cache_volumes(workspace)
    for volume in volumes:
        try:
            client.volumes.get(volume.name)
        except docker.errors.NotFound:
            client.volumes.create(name=volume.name, driver="local", labels=_labels(workspace, volume.kind))
    return volumes


def apply(kwargs: dict[str, Any], volumes: tuple[CacheVolume, ...]) -> None:
    """Add the cache mounts and variables to `containers.run` keyword arguments."""
    from docker.types import Mount

    kwargs["mounts"] = list(kwargs["mounts"]) + [
        Mount(target=v.target, source=v.name, type="volume", read_only=False, no_copy=True) for v in volumes
    ]
    kwargs["environment"] = {**kwargs["environment"], **CACHE_ENV}


def open_up(container: Any, volumes: tuple[CacheVolume, ...]) -> None:
    """Let the sandbox user write the volumes (and ~/.cargo, which the engine made as root)."""
    targets = sorted({CARGO_DIR, *(v.target for v in volumes)})
    code, out = container.exec_run(["chmod", "1777", "--", *targets], user="0:0")
    if code != 0:
        raise RuntimeError(f"cannot open the cache volumes to the sandbox user: {out[:200]!r}")


def list_volumes(client: Any, with_sizes: bool = True) -> list[dict[str, Any]]:
    """termagent's cache volumes (only this run's under a test run), with sizes when asked."""
    sizes: dict[str, int] = {}
    if with_sizes:
        try:
            for row in client.df().get("Volumes") or []:
                sizes[row.get("Name", "")] = int((row.get("UsageData") or {}).get("Size", -1))
        except Exception:  # noqa: BLE001 - sizes are a nicety; listing still works
            sizes = {}
    from termagent.sandbox.reaper import test_run

    rows = []
    for volume in client.volumes.list(filters={"label": _filter()}):
        labels = volume.attrs.get("Labels") or {}
        if not test_run() and LABEL_TEST_RUN in labels:
            continue  # a test run's volumes are its own to remove, as its containers are
        rows.append({"name": volume.name, "kind": labels.get(LABEL_CACHE, ""),
                     "workspace": labels.get(LABEL_WORKSPACE, ""), "size_bytes": sizes.get(volume.name)})
    return sorted(rows, key=lambda row: (row["workspace"], row["name"]))


def _filter() -> list[str]:
    from termagent.sandbox.reaper import test_run

    return [LABEL_CACHE] + ([f"{LABEL_TEST_RUN}={test_run()}"] if test_run() else [])


def prune_volumes(client: Any) -> tuple[list[str], list[str]]:
    """Remove termagent's cache volumes; (removed, kept because a running sandbox uses them)."""
    removed, in_use = [], []
    for row in list_volumes(client, with_sizes=False):
        try:
            client.volumes.get(row["name"]).remove()
            removed.append(row["name"])
        except Exception:  # noqa: BLE001 - the engine refuses a volume a container still mounts
            in_use.append(row["name"])
    return removed, in_use


def human_size(size: int | None) -> str:
    if size is None or size < 0:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
