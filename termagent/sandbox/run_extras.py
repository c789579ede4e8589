"""What a session container gets beyond the fixed hardening: its image and cache volumes.

Kept apart from docker_backend so the backend calls two functions: `extend_run` before
`containers.run` (image choice applied with its entry point forced, cache mounts and
variables added) and `finish_run` right after start (the cache volumes opened to the
sandbox user). Neither touches a hardening setting: those stay in docker_settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termagent.sandbox.caches import CacheVolume, apply, ensure_volumes, open_up
from termagent.sandbox.docker_settings import SandboxLimits
from termagent.sandbox.project_image import harden_run


def extend_run(client: Any, limits: SandboxLimits, workspace: Path, kwargs: dict[str, Any],
               image: str) -> tuple[CacheVolume, ...]:
    """Point `kwargs` at `image` and the project's cache volumes; returns those volumes."""
    harden_run(kwargs, image)
    if not limits.caches:
        return ()
    volumes = ensure_volumes(client, workspace)
    apply(kwargs, volumes)
    return volumes


def finish_run(container: Any, volumes: tuple[CacheVolume, ...]) -> None:
    if volumes:
        open_up(container, volumes)
