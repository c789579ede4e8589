"""Serve ACP on stdin/stdout until the client hangs up.

stdout carries protocol frames only: logging goes to stderr, and the SDK's stream
transport is extended so a line that is not JSON-RPC gets a JSON-RPC error back instead
of being dropped in silence (the SDK only logs it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from typing import Any

from acp import AgentSideConnection, RequestError
from acp._transport import NdjsonTransport
from acp.stdio import _WritePipeProtocol
from acp.task import MessageSender, TaskSupervisor

from termagent.acp.agent import AgentSettings, TermagentAgent

STDIO_LIMIT = 50 * 1024 * 1024  # the SDK's own default for images and embedded files


class CheckedTransport(NdjsonTransport):
    """Newline-delimited JSON-RPC that answers malformed input with -32700 / -32600."""

    async def receive(self) -> dict[str, Any] | None:
        while True:
            line = await self._read_line()
            if not line:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                await self._reject(None, RequestError.parse_error({"details": "not JSON"}))
                continue
            problem = _shape_problem(message)
            if problem is None:
                return message
            request_id = message.get("id") if isinstance(message, dict) else None
            await self._reject(request_id, RequestError.invalid_request({"details": problem}))

    async def _reject(self, request_id: Any, error: RequestError) -> None:
        await self.send({"jsonrpc": "2.0", "id": request_id, "error": error.to_error_obj()})


def _shape_problem(message: Any) -> str | None:
    """Why a parsed frame is not a JSON-RPC request, notification or response; None if it is one."""
    if not isinstance(message, dict):
        return "a JSON-RPC message is an object"
    if "method" in message:
        if not isinstance(message["method"], str):
            return "method must be a string"
        if "params" in message and not isinstance(message["params"], (dict, list, type(None))):
            return "params must be an object"
        return None
    if "id" in message and ("result" in message or "error" in message):
        return None
    return "neither a request nor a response"


def claim_stdout() -> Any:
    """The protocol's own handle on stdout; fd 1 then points at stderr, so a stray print or
    a child process's output can never corrupt the JSON-RPC stream."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return protocol_out


async def stdio_streams(out: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=STDIO_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    protocol = _WritePipeProtocol()
    transport, _ = await loop.connect_write_pipe(lambda: protocol, out)
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


async def serve(settings: AgentSettings, version: str, out: Any) -> None:
    from termagent.store.db import Store

    store = Store()
    agent = TermagentAgent(settings, store, version)
    reader, writer = await stdio_streams(out)
    tasks = TaskSupervisor(source="termagent.acp")
    transport = CheckedTransport(reader, MessageSender(writer, tasks))
    conn = AgentSideConnection(agent, transport, listening=False)
    try:
        await conn.listen()
    finally:
        await agent.close_all()
        await asyncio.shield(conn.close())
        await tasks.shutdown()
        store.close()


def stdio_problem() -> str | None:
    """Why stdin or stdout cannot carry the protocol. The event loop waits on pipes, sockets
    and terminals; /dev/null or a file fails inside it (the server would wait forever) or
    with a traceback."""
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        try:
            mode = os.fstat(stream.fileno()).st_mode
        except (OSError, ValueError):
            return f"{name} is closed"
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and stream.isatty())):
            return f"{name} is not a pipe"
    return None


def run(settings: AgentSettings) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="termagent acp: %(levelname)s: %(message)s")
    from termagent import __version__

    problem = stdio_problem()
    if problem:
        sys.stderr.write(f"termagent acp: {problem}; an editor starts it and speaks ACP over its stdin and stdout\n")
        return 2
    out = claim_stdout()
    try:
        asyncio.run(serve(settings, __version__, out))
    except KeyboardInterrupt:
        return 130
    return 0
