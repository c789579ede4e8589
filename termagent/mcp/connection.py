"""One live connection to one MCP server, on the official SDK (stdio or Streamable HTTP).

Runs entirely inside the manager's background event loop. A server that fails is a
status and a message (with its stderr tail), never an exception the session sees; a
server that breaks mid-call is marked `crashed` and is not restarted.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client import stdio
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from termagent.mcp.config import ServerConfig

KEPT_HOST_VARS = ("PATH", "HOME", "LANG")
STDERR_TAIL_CHARS = 600

STARTING, READY, FAILED, CRASHED, CLOSED = "starting", "ready", "failed", "crashed", "closed"


class CallFailed(Exception):
    """The call did not produce a result: the server is gone, timed out, or refused it."""

    def __init__(self, kind: str, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Listing:
    tools: tuple[Any, ...]
    offers_resources: bool
    prompts: tuple[Any, ...]


def stdio_parameters(server: ServerConfig, workspace: Path, wrap: list[str] | None = None) -> StdioServerParameters:
    """The server gets its configured env plus PATH, HOME and LANG: nothing else of ours.

    The SDK always adds a few harmless host variables (USER, SHELL, TERM...); `env -u`
    removes them before the server starts, so values never appear on a command line.
    """
    env = {key: os.environ[key] for key in ("LANG",) if key in os.environ}
    env.update(dict(server.env))
    extra = [k for k in stdio.DEFAULT_INHERITED_ENV_VARS if k not in KEPT_HOST_VARS and k not in env]
    unset = [part for key in extra for part in ("-u", key)]
    argv = [*(wrap or []), server.command, *server.args]
    return StdioServerParameters(command="env", args=[*unset, "--", *argv], env=env, cwd=str(workspace))


class Connection:
    def __init__(self, server: ServerConfig, workspace: Path, sandbox: Any = None) -> None:
        self.server = server
        self.workspace = workspace
        self.sandbox = sandbox  # mcp.sandboxed.SandboxedServer for `sandbox = true`
        self.wrap: list[str] | None = None
        self.status = STARTING
        self.message = ""
        self.listing = Listing((), False, ())
        self._session: ClientSession | None = None
        self._scope: anyio.CancelScope | None = None
        self._settled = asyncio.Event()
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")

    async def run(self) -> None:
        """Connect, list, then hold the connection open until `stop`."""
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self.sandbox is not None:
                    names = [*dict(self.server.env), *(k for k in ("LANG",) if k in os.environ)]
                    self.wrap = await asyncio.to_thread(self.sandbox.start_blocking, names)
                async with self._transport() as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        await self._list(session)
                        self._session = session
                        self.status = READY
                        self._settled.set()
                        await anyio.sleep_forever()
        except Exception as exc:  # any failure to start is this server's problem only
            self._fail(FAILED if self.status == STARTING else CRASHED, _describe(exc))
        finally:
            self._session = None
            if self.sandbox is not None:
                await asyncio.shield(asyncio.to_thread(self.sandbox.remove_blocking))
            if self.status in (STARTING, READY):
                self.status = CLOSED if self.status == READY else FAILED
            self._settled.set()

    async def _list(self, session: ClientSession) -> None:
        init = await session.initialize()
        caps = init.capabilities
        tools: list[Any] = []
        cursor = None
        while True:
            page = await session.list_tools(params=_page(cursor)) if cursor else await session.list_tools()
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        prompts: tuple[Any, ...] = ()
        if caps.prompts is not None:
            try:
                prompts = tuple((await session.list_prompts()).prompts)
            except MCPError:
                prompts = ()
        self.listing = Listing(tuple(tools), caps.resources is not None, prompts)

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[Any]:
        if self.server.transport == "http":
            client = create_mcp_http_client(headers=dict(self.server.headers))
            async with client, streamable_http_client(self.server.url, http_client=client) as streams:
                yield streams
            return
        params = stdio_parameters(self.server, self.workspace, self.wrap)
        async with stdio.stdio_client(params, errlog=self._stderr) as streams:
            yield streams

    async def wait_settled(self, timeout_s: float) -> None:
        """Until ready or failed; past the timeout the server is stopped and counted failed."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        except TimeoutError:
            self._fail(FAILED, f"did not finish starting within {timeout_s:g}s")
            self.stop()

    def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    def _fail(self, status: str, why: str) -> None:
        if self.status in (FAILED, CRASHED):
            return
        self.status = status
        tail = self.stderr_tail()
        self.message = why + (f"; stderr: {tail}" if tail else "")

    def stderr_tail(self) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - STDERR_TAIL_CHARS * 4))
            return " ".join(self._stderr.read().split())[-STDERR_TAIL_CHARS:]
        except (OSError, ValueError):
            return ""

    def _live(self) -> ClientSession:
        if self._session is None or self.status != READY:
            state = self.message or self.status
            raise CallFailed("mcp_server_unavailable", f"MCP server {self.server.name!r} is not running ({state}); "
                             "it is not restarted in this session", False)
        return self._session

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        session = self._live()
        return await self._guarded(session.call_tool(tool, arguments), f"{tool} call")

    async def list_resources(self) -> Any:
        return await self._guarded(self._live().list_resources(), "resources/list")

    async def read_resource(self, uri: str) -> Any:
        return await self._guarded(self._live().read_resource(uri), "resources/read")

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> Any:
        return await self._guarded(self._live().get_prompt(name, arguments), "prompts/get")

    async def _guarded(self, request: Any, what: str) -> Any:
        """Bound the request by the server's timeout; a broken transport marks the server crashed."""
        try:
            return await asyncio.wait_for(request, self.server.timeout_s)
        except TimeoutError:
            raise CallFailed("timeout", f"MCP server {self.server.name!r}: {what} did not answer within "
                             f"{self.server.timeout_s:g}s", True) from None
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise CallFailed("mcp_error", f"MCP server {self.server.name!r} refused {what}: {exc}", False) from None
            self._fail(CRASHED, f"exited during {what}")
            self.stop()
            raise CallFailed("mcp_server_crashed", f"MCP server {self.server.name!r} {self.message}", False) from None
        except Exception as exc:
            self._fail(CRASHED, f"broke during {what}: {_describe(exc)}")
            self.stop()
            raise CallFailed("mcp_server_crashed", f"MCP server {self.server.name!r} {self.message}", False) from None

    def close_log(self) -> None:
        self._stderr.close()


def _page(cursor: str) -> Any:
    import mcp_types

    return mcp_types.PaginatedRequestParams(cursor=cursor)


def _describe(exc: BaseException) -> str:
    """The innermost message of an exception group, which is what anyio raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
