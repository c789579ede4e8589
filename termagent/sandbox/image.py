"""Building and inspecting the sandbox image: `termagent sandbox build` and `status`.

The image is built offline (sandboxes/bootstrap.sh: debootstrap from the host's own apt
sources, then `docker import`), so it works where no registry can be reached. It
carries a label with a hash of everything under sandboxes/; a changed recipe shows up
as "out of date" and CI rebuilds it. scripts/build-sandbox-image.sh computes the same
hash in shell; a test keeps the two in step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.sandbox.base import SandboxUnavailable
from termagent.sandbox.docker_settings import LABEL_PID, LABEL_RECIPE, LABEL_SESSION, LABEL_WORKSPACE

if TYPE_CHECKING:
    from termagent.config import Config

RECIPE_HASH_LEN = 16


class ImageBuildError(SandboxUnavailable):
    """The image could not be built; the message says why and what to do."""


def sandboxes_dir() -> Path:
    """The recipes directory: $TERMAGENT_SANDBOXES_DIR, else the sandboxes/ shipped in the package."""
    explicit = os.environ.get("TERMAGENT_SANDBOXES_DIR")
    candidate = Path(explicit) if explicit else Path(__file__).resolve().parents[1] / "sandboxes"
    if not (candidate / "bootstrap.sh").is_file():
        raise ImageBuildError(
            f"sandbox recipes not found at {candidate}; set TERMAGENT_SANDBOXES_DIR to the "
            "sandboxes/ directory of a termagent checkout"
        )
    return candidate


def recipe_hash(root: Path) -> str:
    """Hash of every file under `root` (path and content), as build-sandbox-image.sh computes it.

    The proxy/ recipe is left out: it builds its own image (proxy_image.py) on top of this one.
    """
    lines = []
    files = (p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "proxy")
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix().encode()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{path.relative_to(root).as_posix()}\n{digest}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:RECIPE_HASH_LEN]


def image_labels(client: Any, tag: str) -> dict[str, str] | None:
    """The labels of `tag` ({} when it has none); None when there is no such image."""
    import docker.errors

    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return dict(image.labels or {})


def _image_recipe(client: Any, tag: str) -> str | None:
    """The recipe label of `tag`; "" when present without one; None when absent."""
    labels = image_labels(client, tag)
    return None if labels is None else labels.get(LABEL_RECIPE, "")


def build_image(config: Config, progress: Callable[[str], None], force: bool = False) -> str:
    """Build the configured image unless one with the current recipe exists; returns a summary."""
    from termagent.sandbox.engine import connect_engine

    tag = str(config.get("sandbox", "image"))
    root = sandboxes_dir()
    wanted = recipe_hash(root)
    client = connect_engine()
    if not force and _image_recipe(client, tag) == wanted:
        return f"{tag} is up to date (recipe {wanted})"
    command = ["bash", str(root / "bootstrap.sh"), str(root / "default"), tag, wanted]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise ImageBuildError("building the image needs root (debootstrap); run as root or install sudo")
        command = ["sudo", "--", *command]
    progress(f"building {tag} (recipe {wanted}); this takes a few minutes")
    code, tail = _run_streaming(command, progress)
    if code != 0:
        raise ImageBuildError(f"image build failed (exit {code}):\n" + "\n".join(tail))
    return f"built {tag} (recipe {wanted})"


def _run_streaming(command: list[str], progress: Callable[[str], None]) -> tuple[int, list[str]]:
    """Run `command`, passing each output line to `progress`; keeps the last lines for errors."""
    tail: list[str] = []
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            progress(line)
            tail = (tail + [line])[-20:]
    return proc.returncode, tail


def sandbox_status(config: Config) -> dict[str, Any]:
    """Engine, image and session containers, for `termagent sandbox status` (never raises)."""
    tag = str(config.get("sandbox", "image"))
    status: dict[str, Any] = {"backend": config.get("sandbox", "backend"), "image": tag}
    try:
        status["recipe"] = recipe_hash(sandboxes_dir())
    except ImageBuildError:
        status["recipe"] = None
    try:
        from termagent.sandbox.engine import connect_engine

        client = connect_engine()
    except SandboxUnavailable as exc:
        status.update(engine="unreachable", error=str(exc), image_present=False, up_to_date=False, containers=[])
        return status
    status["engine"] = "reachable"
    status["engine_version"] = client.version().get("Version", "")
    built = _image_recipe(client, tag)
    status["image_present"] = built is not None
    status["image_recipe"] = built
    status["up_to_date"] = built is not None and (status["recipe"] is None or built == status["recipe"])
    status["containers"] = _session_containers(client)
    return status


def _session_containers(client: Any) -> list[dict[str, Any]]:
    from termagent.sandbox.reaper import is_stale

    rows = []
    for container in client.containers.list(all=True, filters={"label": LABEL_SESSION}):
        labels = container.labels or {}
        rows.append({
            "name": container.name,
            "status": container.status,
            "session": labels.get(LABEL_SESSION, ""),
            "pid": labels.get(LABEL_PID, ""),
            "workspace": labels.get(LABEL_WORKSPACE, ""),
            "stale": is_stale(labels),
        })
    return rows
