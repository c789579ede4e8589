"""Reaching the Docker engine: a pinged client or a SandboxUnavailable that says how to fix it.

Apart from the sandbox backend so image building, project images and maintenance commands
can reach the engine without importing the backend that uses them.
"""

from __future__ import annotations

from typing import Any

from termagent.sandbox.base import SandboxUnavailable

ENGINE_HINT = (
    "Start it with: sudo dockerd & (or scripts/start-dockerd.sh), "
    "or run with --sandbox none to run commands unsandboxed on the host."
)


def connect_engine() -> Any:
    """A docker client that has answered a ping, or SandboxUnavailable saying how to fix it."""
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailable(f"the docker Python SDK is not installed ({exc}). {ENGINE_HINT}") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise SandboxUnavailable(f"Docker engine not reachable ({brief(exc)}). {ENGINE_HINT}") from None
    return client


def require_image(client: Any, image: str) -> Any:
    import docker.errors

    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"sandbox image {image} not found. Build it with: termagent sandbox build "
            "(offline, from the host's apt sources)."
        ) from None
    except docker.errors.APIError as exc:
        raise SandboxUnavailable(f"Docker engine error looking up image {image}: {brief(exc)}") from None


def brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
