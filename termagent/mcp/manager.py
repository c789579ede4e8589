"""All of a session's MCP connections, in one background thread with its own event loop.

The servers start the moment the session is built (before any event loop of the front
end exists), concurrently, and never block it: the first model request waits for them
at most the start timeout (`ready`). Calls cross to the background loop and back;
cancelling the awaiting task (an interrupt) cancels the request on the server side too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.mcp.config import ServerConfig

CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServerStatus:
    name: str
    transport: str
    status: str
    message: str
    tools: int


class McpManager:
    def __init__(self, servers: list[ServerConfig], workspace: Path, start_timeout_s: float,
                 config: Any = None, session_id: str = "") -> None:
        from termagent.mcp.connection import Connection  # the SDK loads here, only when servers exist
        from termagent.mcp.sandboxed import SandboxedServer

        self.start_timeout_s = start_timeout_s
        self.connections = {
            s.name: Connection(s, workspace, SandboxedServer(config, workspace, session_id, s.name) if s.sandbox else None)
            for s in servers
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="termagent-mcp", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self._started: concurrent.futures.Future[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._thread.start()
        self._started = asyncio.run_coroutine_threadsafe(self._start_all(), self._loop)

    async def _start_all(self) -> None:
        self._tasks = [asyncio.get_running_loop().create_task(c.run()) for c in self.connections.values()]
        await asyncio.gather(*(c.wait_settled(self.start_timeout_s) for c in self.connections.values()))

    async def ready(self) -> None:
        """Wait (from any loop) until every server is up or has failed; bounded by the start timeout."""
        assert self._started is not None
        await asyncio.wait_for(asyncio.wrap_future(self._started), self.start_timeout_s + 5.0)

    def ready_blocking(self) -> None:
        assert self._started is not None
        self._started.result(self.start_timeout_s + 5.0)

    async def run(self, server: str, make: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
        """Run `make(connection)` on the background loop; cancellation reaches it."""
        from termagent.mcp.connection import CallFailed

        connection = self.connections[server]
        if self._closing:
            raise CallFailed("mcp_server_unavailable", f"MCP server {server!r} was shut down with the session", False)
        future: "concurrent.futures.Future[Any]" = asyncio.run_coroutine_threadsafe(make(connection), self._loop)
        return await asyncio.wrap_future(future)

    def statuses(self) -> list[ServerStatus]:
        return [ServerStatus(name, c.server.transport, c.status, c.message, len(c.listing.tools))
                for name, c in self.connections.items()]

    async def aclose(self) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._close_all(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), CLOSE_TIMEOUT_S)
        except (TimeoutError, Exception):
            pass
        self._shutdown_thread()

    def close_blocking(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(CLOSE_TIMEOUT_S)
        except Exception:
            pass
        self._shutdown_thread()

    async def _close_all(self) -> None:
        self._closing = True
        for connection in self.connections.values():
            connection.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for connection in self.connections.values():
            connection.close_log()

    def _shutdown_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()
