"""`termagent sandbox status` (image in force, egress proxy, cache volumes) and `termagent sandbox prune`.

Both only ever touch what termagent labelled: cache volumes carry `termagent.cache`,
session containers `termagent.session`. Under a test run only that run's are seen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from termagent.sandbox.caches import human_size, list_volumes, prune_volumes

if TYPE_CHECKING:
    from termagent.config import Config


def status_lines(config: Config, workspace: Path, trusted: bool) -> list[str]:
    """What a session in `workspace` would run, and the cache volumes (with sizes)."""
    from termagent.sandbox.base import SandboxUnavailable
    from termagent.sandbox.caches import cache_volumes
    from termagent.sandbox.engine import connect_engine
    from termagent.sandbox.project_image import describe_choice
    from termagent.sandbox.proxy_image import proxy_status

    choice = describe_choice(config, workspace, trusted)
    lines = [f"image in force: {choice['image_in_force']} ({choice['image_reason']})"]
    try:
        client = connect_engine()
    except SandboxUnavailable:
        client = None
    if client is not None:
        lines.append(proxy_status(client))
    if not config.get("sandbox", "caches"):
        lines.append("caches: off ([sandbox] caches = false)")
        return lines
    if client is None:
        return lines + ["caches: on (engine unreachable: sizes unknown)"]
    rows = list_volumes(client)
    mine = {volume.name for volume in cache_volumes(workspace)}
    lines.append(f"caches: on; {len(rows)} cache volumes ({sum(max(r['size_bytes'] or 0, 0) for r in rows)} bytes)"
                 + ("; remove them with: termagent sandbox prune" if rows else ""))
    for row in rows:
        here = "  (this workspace)" if row["name"] in mine else ""
        lines.append(f"  {row['name']}  {human_size(row['size_bytes'])}  {row['workspace']}{here}")
    return lines


def prune() -> list[str]:
    """Remove stale session containers, then every cache volume no live sandbox uses."""
    from termagent.sandbox.engine import connect_engine
    from termagent.sandbox.reaper import reap_stale

    client = connect_engine()
    reaped = reap_stale(client)
    removed, in_use = prune_volumes(client)
    lines = [f"removed {len(reaped)} stale sandbox containers" + (f": {', '.join(reaped)}" if reaped else "")]
    lines.append(f"removed {len(removed)} cache volumes" + (f": {', '.join(removed)}" if removed else ""))
    if in_use:
        lines.append(f"kept {len(in_use)} cache volumes a running session uses: {', '.join(in_use)}")
    return lines


def build_project(config: Config, workspace: Path, trusted: bool,
                  progress: Callable[[str], None]) -> str:
    """After `termagent sandbox build`: build the trusted project's recipe too ('' when there is none)."""
    from termagent.sandbox.engine import connect_engine
    from termagent.sandbox.docker_settings import limits_from_config
    from termagent.sandbox.project_image import choose_image, with_project

    limits = with_project(limits_from_config(config), workspace, trusted)
    if not limits.project_recipe:
        return ""
    choice = choose_image(connect_engine(), limits, workspace, progress)
    return f"{'built' if choice.built else 'up to date:'} {choice.tag} ({choice.reason})"
