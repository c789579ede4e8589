"""Which image a session's sandbox runs, and building a project's own image.

A project that needs another toolchain names an image (`[sandbox] image = "NAME"`) or,
when the project is trusted, ships a recipe in `.termagent/sandbox/Dockerfile`. The
recipe is built offline (`--network none`, never pulling) from a base that must
already be local (termagent-sandbox:latest, say), with only that directory as build
context (never the workspace), and tagged by a hash of the recipe and the base's id,
so an unchanged recipe is never rebuilt. A failed build is a sandbox error (exit 5),
never a silent fall-back to the default image.

Hardening does not come from the image: user, read-only root, dropped capabilities,
seccomp, limits, mounts and environment are all run settings (docker_settings), and
`harden_run` also overrides what an image could set to run something of its own
(ENTRYPOINT, HEALTHCHECK). An image that declares VOLUMEs is refused: each would be a
writable hole in the read-only root.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.sandbox.docker_settings import (
    LABEL_RECIPE,
    LABEL_TEST_RUN,
    LABEL_WORKSPACE,
    SandboxLimits,
)
from termagent.sandbox.image import ImageBuildError

if TYPE_CHECKING:
    from termagent.config import Config

RECIPE_DIR = ".termagent/sandbox"
DEFAULT_IMAGE = "termagent-sandbox:latest"
PROJECT_PREFIX = "termagent-project-"
LABEL_PROJECT = "termagent.project"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ImageChoice:
    """The image in force, why, and (for a project recipe) its hash and whether we built it now."""

    tag: str
    reason: str
    recipe: str = ""
    built: bool = False


def recipe_dir(workspace: Path, trusted: bool) -> Path | None:
    """The project's recipe directory, when the project is trusted and has a Dockerfile."""
    folder = workspace / RECIPE_DIR
    if trusted and not folder.is_symlink() and (folder / "Dockerfile").is_file():
        return folder
    return None


def with_project(limits: SandboxLimits, workspace: Path, trusted: bool) -> SandboxLimits:
    folder = recipe_dir(workspace.resolve(), trusted)
    return replace(limits, project_recipe=str(folder)) if folder is not None else limits


def recipe_hash(folder: Path, base_ids: list[str]) -> str:
    """Hash of the recipe's files (symlinks as their target text) and the base images' ids."""
    lines = [f"base\n{base_id}\n" for base_id in base_ids]
    for path in sorted(p for p in folder.rglob("*") if p.is_symlink() or p.is_file()):
        name = path.relative_to(folder).as_posix()
        data = ("link:" + os.readlink(path)).encode() if path.is_symlink() else path.read_bytes()
        lines.append(f"{name}\n{hashlib.sha256(data).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:16]


def base_images(client: Any, dockerfile: Path) -> list[str]:
    """Ids of the FROM images, which must be local (the build never pulls)."""
    import docker.errors

    stages: set[str] = set()
    ids = []
    for line in dockerfile.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _FROM.match(line)
        if match is None:
            continue
        name, alias = match.group(1), match.group(2)
        if name.lower() in stages or name == "scratch":
            ids.append(name)
        else:
            try:
                ids.append(client.images.get(name).id)
            except docker.errors.ImageNotFound:
                raise ImageBuildError(
                    f"project image: base image {name} (FROM in {dockerfile}) is not available locally; project "
                    f"images are built offline, FROM a local image such as {DEFAULT_IMAGE} "
                    "(termagent sandbox build makes that one)") from None
        if alias:
            stages.add(alias.lower())
    if not ids:
        raise ImageBuildError(f"project image: {dockerfile} has no FROM line")
    return ids


def choose_image(client: Any, limits: SandboxLimits, workspace: Path,
                 progress: Callable[[str], None] | None = None, build: bool = True) -> ImageChoice:
    """The image this workspace's sandbox runs; builds the project recipe when needed and `build`."""
    from termagent.sandbox.engine import require_image

    if limits.project_recipe:
        choice = project_image(client, Path(limits.project_recipe), workspace, progress, build)
    else:
        reason = "the default image" if limits.image == DEFAULT_IMAGE else "[sandbox] image in config"
        choice = ImageChoice(limits.image, reason)
    if build or not limits.project_recipe:
        refuse_volumes(require_image(client, choice.tag), choice.tag)
    return choice


def project_image(client: Any, folder: Path, workspace: Path, progress: Callable[[str], None] | None,
                  build: bool) -> ImageChoice:
    import docker.errors

    recipe = recipe_hash(folder, base_images(client, folder / "Dockerfile"))
    tag = f"{PROJECT_PREFIX}{recipe}:latest"
    reason = f"project recipe {folder / 'Dockerfile'} (recipe {recipe})"
    try:
        client.images.get(tag)
        return ImageChoice(tag, reason, recipe)
    except docker.errors.ImageNotFound:
        if not build:
            return ImageChoice(tag, reason + "; not built yet: the next session builds it", recipe)
    run_build(client, folder, tag, recipe, workspace, progress or (lambda line: None))
    return ImageChoice(tag, reason, recipe, built=True)


def run_build(client: Any, folder: Path, tag: str, recipe: str, workspace: Path,
              progress: Callable[[str], None]) -> None:
    """`docker build --network none --pull=false` of the recipe directory; ImageBuildError on failure."""
    from termagent.sandbox.reaper import test_run

    labels = {LABEL_RECIPE: recipe, LABEL_PROJECT: "1", LABEL_WORKSPACE: str(workspace.resolve())}
    if test_run():
        labels[LABEL_TEST_RUN] = test_run()
    tail: list[str] = []
    progress(f"building project image {tag} from {folder / 'Dockerfile'} (offline)")
    try:
        for chunk in client.api.build(path=str(folder), tag=tag, network_mode="none", pull=False, rm=True,
                                      forcerm=True, labels=labels, decode=True):
            line = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
            if line:
                progress(line)
                tail = (tail + [line])[-15:]
            if chunk.get("error"):
                raise ImageBuildError(f"project image build failed ({folder / 'Dockerfile'}): "
                                      f"{str(chunk['error']).strip()}\n" + "\n".join(tail))
    except ImageBuildError:
        raise
    except Exception as exc:  # noqa: BLE001 - the engine refused the build (bad context, API error)
        raise ImageBuildError(f"project image build failed ({folder / 'Dockerfile'}): {exc}") from None


def refuse_volumes(image: Any, tag: str) -> None:
    volumes = ((image.attrs or {}).get("Config") or {}).get("Volumes") or {}
    if volumes:
        raise ImageBuildError(f"sandbox image {tag} declares VOLUME {', '.join(sorted(volumes))}: each would be a "
                              "writable hole in the read-only root filesystem, so termagent refuses it")


def harden_run(kwargs: dict[str, Any], tag: str) -> None:
    """Run `tag` with our entry point and no image health check, whatever the image says."""
    kwargs["image"] = tag
    kwargs["entrypoint"] = ["sleep"]
    kwargs["command"] = ["infinity"]
    kwargs["healthcheck"] = {"test": ["NONE"]}


def describe_choice(config: Config, workspace: Path, trusted: bool) -> dict[str, Any]:
    """For `termagent sandbox status`: the image a session here would run, and why (never builds)."""
    from termagent.sandbox.base import SandboxUnavailable
    from termagent.sandbox.engine import connect_engine
    from termagent.sandbox.docker_settings import limits_from_config

    limits = with_project(limits_from_config(config), workspace, trusted)
    untrusted = not trusted and (workspace / RECIPE_DIR / "Dockerfile").is_file()
    try:
        choice = choose_image(connect_engine(), limits, workspace, build=False)
    except SandboxUnavailable as exc:
        return {"image_in_force": limits.image, "image_reason": f"unavailable: {exc}"}
    reason = choice.reason + ("; the project's .termagent/sandbox/Dockerfile is ignored: project not trusted"
                              if untrusted else "")
    return {"image_in_force": choice.tag, "image_reason": reason}
