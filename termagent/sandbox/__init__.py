"""Where commands run: the Docker sandbox, or (only when asked) the host.

`open_sandbox` builds the backend the config names without touching Docker; the
caller awaits `start()`, which is where an unreachable engine or a missing image
raises SandboxUnavailable. Backends are imported lazily so `import termagent` stays
light and never loads the docker SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.sandbox.base import ExecResult, Sandbox, SandboxUnavailable

if TYPE_CHECKING:
    from termagent.config import Config

__all__ = ["ExecResult", "Sandbox", "SandboxUnavailable", "open_sandbox"]


def open_sandbox(config: Config, workspace: Path, session_id: str, trusted: bool = False,
                 audit: Any = None) -> Sandbox:
    """The session's sandbox (not yet started) for `sandbox.backend`: "docker" or "none".

    `trusted`: the project is trusted, so its .termagent/sandbox/Dockerfile (if any) is the image.
    `audit` (a store with record_audit) receives a row per connection the egress proxy handled.
    """
    from termagent.sandbox.docker_settings import limits_from_config
    from termagent.sandbox.project_image import with_project

    try:
        limits = limits_from_config(config)
    except ValueError as exc:
        raise SandboxUnavailable(f"invalid [sandbox] setting: {exc}") from None
    backend = config.get("sandbox", "backend")
    if backend == "none":
        from termagent.sandbox.host import HostSandbox

        return HostSandbox(limits, workspace, session_id)
    if backend == "docker":
        from termagent.sandbox.docker_backend import DockerSandbox
        from termagent.sandbox.network import audit_writer

        return DockerSandbox(with_project(limits, workspace, trusted), workspace, session_id,
                             audit_writer(audit, session_id))
    raise SandboxUnavailable(f"unknown sandbox backend {backend!r} (use docker or none)")
