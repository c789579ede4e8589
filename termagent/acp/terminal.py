"""`bash` through the editor's own terminal (`terminal/create` and friends), when a person asks.

With `[acp] terminal = "client"` and an editor that offers terminals, each command runs
in a terminal the editor owns and shows, in the editor's environment on this machine.
That is outside termagent's sandbox, so the session is opened as an unsandboxed one
(`--sandbox none`): the policy scopes commands to the host, auto mode is refused, and the
person is told at start. Only a person's own config may choose it, never a project's.

A `cd` carries over between commands as in the other sandboxes: each command runs
after a `cd` to the last directory and reports where it ended on its last output line,
which is removed before the model sees the output.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acp import schema

from termagent.acp.files import on_loop
from termagent.sandbox.base import ExecResult, Sandbox, SandboxUnavailable
from termagent.sandbox.output_cap import HeadTailBuffer

CWD_MARK = "__termagent_cwd__:"
POLL_S = 0.25  # how often a running command's output is fetched for the live view
TERMINAL_TIMEOUT_S = 30.0  # for the editor to create, report on or release a terminal


def terminal_offered(capabilities: schema.ClientCapabilities | None) -> bool:
    return bool(capabilities is not None and capabilities.terminal)


class ClientTerminal(Sandbox):
    name = "editor terminal"

    def __init__(self, client: Any, session_id: str, workspace: Path, loop: asyncio.AbstractEventLoop,
                 output_cap: int) -> None:
        self._client, self._session_id, self._loop = client, session_id, loop
        self.workspace = workspace
        self.cwd = str(workspace)
        self._cap = output_cap
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Nothing lives for the session: the editor makes a terminal per command."""

    async def exec(self, command: str, timeout_s: float,
                   on_output: Callable[[str], None] | None = None) -> ExecResult:
        async with self._lock:
            return await on_loop(self._loop, lambda: self._run(command, timeout_s, on_output))

    async def _run(self, command: str, timeout_s: float, on_output: Callable[[str], None] | None) -> ExecResult:
        started = time.monotonic()
        created = await self._ask(self._client.create_terminal(
            session_id=self._session_id, command="bash", args=["-c", _script(self.cwd, command)],
            cwd=str(self.workspace), output_byte_limit=self._cap * 4))
        terminal = created.terminal_id
        try:
            status, timed_out = await self._wait(terminal, timeout_s, on_output)
            final = await self._ask(self._client.terminal_output(session_id=self._session_id, terminal_id=terminal))
        finally:
            await self._release(terminal)
        text, cwd = _split_cwd(final.output)
        self.cwd = cwd or self.cwd
        buffer = HeadTailBuffer(self._cap)
        buffer.feed(text.encode("utf-8", "replace"))
        return ExecResult(exit_code=None if timed_out or status is None else _code(status),
                          output=buffer.render(), duration_s=time.monotonic() - started, timed_out=timed_out,
                          elided_bytes=max(buffer.elided, 0), cwd=self.cwd, full_output=buffer.full_text())

    async def _wait(self, terminal: str, timeout_s: float,
                    on_output: Callable[[str], None] | None) -> tuple[Any, bool]:
        """The exit status (None when killed at the timeout), forwarding output as it grows."""
        exited = asyncio.ensure_future(self._client.wait_for_terminal_exit(session_id=self._session_id,
                                                                           terminal_id=terminal))
        deadline, shown = time.monotonic() + timeout_s, 0
        try:
            while not exited.done() and time.monotonic() < deadline:
                await asyncio.wait({exited}, timeout=min(POLL_S, max(deadline - time.monotonic(), 0)))
                if on_output is not None and not exited.done():
                    shown = await self._forward(terminal, shown, on_output)
            if exited.done():
                return exited.result(), False
            await self._ask(self._client.kill_terminal(session_id=self._session_id, terminal_id=terminal))
            return None, True
        finally:
            if not exited.done():
                exited.cancel()

    async def _forward(self, terminal: str, shown: int, on_output: Callable[[str], None]) -> int:
        now = await self._ask(self._client.terminal_output(session_id=self._session_id, terminal_id=terminal))
        text = now.output.split(CWD_MARK, 1)[0]
        if not now.truncated and len(text) > shown:
            on_output(text[shown:])
            return len(text)
        return shown

    async def _release(self, terminal: str) -> None:
        try:
            await self._ask(self._client.release_terminal(session_id=self._session_id, terminal_id=terminal))
        except SandboxUnavailable:
            pass  # the command has ended; an editor that cannot release its terminal keeps it

    async def _ask(self, request: Any) -> Any:
        """One terminal request with a deadline; an editor that fails is a sandbox failure the model hears of."""
        try:
            return await asyncio.wait_for(request, TERMINAL_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an error answer, a hang-up, no answer
            raise SandboxUnavailable(f"the editor's terminal failed: {exc or type(exc).__name__}") from None

    async def close(self) -> None:
        """Each terminal is released when its command ends: nothing is left."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "cwd": self.cwd, "output_cap_bytes": self._cap}


def _script(cwd: str, command: str) -> str:
    """The command in the last directory, then where it ended (its own exit code kept)."""
    return (f"cd {shlex.quote(cwd)} || exit 1\n{command}\n"
            f"__termagent_status=$?\nprintf '\\n{CWD_MARK}%s\\n' \"$PWD\"\nexit $__termagent_status")


def _split_cwd(output: str) -> tuple[str, str]:
    text, mark, tail = output.rpartition(CWD_MARK)
    if not mark:
        return output, ""
    return text[:-1] if text.endswith("\n") else text, tail.strip("\n")


def _code(status: Any) -> int | None:
    """The exit code; None for a command ended by a signal (shown as unknown)."""
    return None if status.exit_code is None else int(status.exit_code)
