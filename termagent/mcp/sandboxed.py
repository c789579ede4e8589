"""`sandbox = true`: a stdio MCP server in its own sandbox container, reached by `docker exec -i`.

The container is made exactly like the session's command sandbox (same image, limits,
no network, read-only root, the workspace at /workspace), so a server that runs code
gets no more than `bash` would. The server's configured environment is passed by name
(`-e KEY`), so values never appear on a command line.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


class SandboxedServer:
    def __init__(self, config: Any, workspace: Path, session_id: str, name: str) -> None:
        self.config = config
        self.workspace = workspace.resolve()
        self.session_id = session_id
        self.name = name
        self._container: Any = None
        self._lock = threading.Lock()
        self._removed = False  # set when the server is stopped, even while its container is still being made

    def start_blocking(self, env_names: list[str]) -> list[str]:
        """Start the container; returns the argv prefix that runs a command inside it."""
        from termagent.sandbox.docker_backend import container_name
        from termagent.sandbox.engine import connect_engine, require_image
        from termagent.sandbox.docker_settings import WORKSPACE, limits_from_config, run_kwargs
        from termagent.sandbox.reaper import owner_labels

        client = connect_engine()
        limits = limits_from_config(self.config)
        require_image(client, limits.image)
        labels = {**owner_labels(self.session_id, str(self.workspace)), "termagent.mcp-server": self.name}
        kwargs = run_kwargs(limits, self.workspace, labels)
        container = client.containers.run(name=container_name(f"mcp-{self.name}-{self.session_id}"), **kwargs)
        with self._lock:
            self._container = container
            late = self._removed
        if late:  # stopped (a start-up timeout) while Docker was still creating it
            self.remove_blocking()
            raise RuntimeError("stopped while its sandbox container was starting")
        flags = [part for key in env_names for part in ("-e", key)]
        return ["docker", "exec", "-i", "-u", f"{os.getuid()}:{os.getgid()}", "-w", WORKSPACE, *flags,
                container.id]

    def remove_blocking(self) -> None:
        with self._lock:
            self._removed = True
            container, self._container = self._container, None
        if container is None:
            return
        try:
            container.remove(force=True)
        except Exception:  # already gone, or the engine went away: nothing left to do
            pass
