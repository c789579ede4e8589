"""`bash` through the editor's own terminal (`terminal/create` and friends), when a person asks.

With `[acp] terminal = "client"` and an editor that offers terminals, each command runs
in a terminal the editor owns and shows, in the editor's environment on this machine.
That is outside termagent's sandbox, so the session is opened as an unsandboxed one
(`--sandbox none`): the policy scopes commands to the host, auto mode is refused, and the
person is told at start. Only a person's own config may choose it, never a project's.

A `cd` carries over between commands as in the other sandboxes: each command runs in
the same wrapper as on the host (`sandbox/wrapper.py`), which starts in the last directory
and writes where the command ended to a state file, even when it ends with `exit`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acp import schema

from termagent.acp.files import on_loop
from termagent.sandbox.base import ExecResult, Sandbox, SandboxUnavailable
from termagent.sandbox.output_cap import HeadTailBuffer
from termagent.sandbox.wrapper import INNER, read_cwd

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
        self._state_dir: str | None = None

    async def start(self) -> None:
        """Nothing lives for the session: the editor makes a terminal per command."""

    async def exec(self, command: str, timeout_s: float,
                   on_output: Callable[[str], None] | None = None) -> ExecResult:
        async with self._lock:
            return await on_loop(self._loop, lambda: self._run(command, timeout_s, on_output))

    async def _run(self, command: str, timeout_s: float, on_output: Callable[[str], None] | None) -> ExecResult:
        started = time.monotonic()
        state = self._state_file()
        created = await self._ask(self._client.create_terminal(
            session_id=self._session_id, command="bash",
            args=["-c", INNER, "bash", self.cwd, state, command, str(self.workspace)],
            cwd=str(self.workspace), output_byte_limit=self._cap * 4))
        terminal = created.terminal_id
        try:
            status, timed_out = await self._wait(terminal, timeout_s, on_output)
            final = await self._ask(self._client.terminal_output(session_id=self._session_id, terminal_id=terminal))
        finally:
            await self._release(terminal)
        self.cwd = read_cwd(state, self.cwd)
        buffer = HeadTailBuffer(self._cap)
        buffer.feed(final.output.encode("utf-8", "replace"))
        code = None if timed_out or status is None or status.exit_code is None else int(status.exit_code)
        return ExecResult(exit_code=code,
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
        if not now.truncated and len(now.output) > shown:
            on_output(now.output[shown:])
            return len(now.output)
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

    def _state_file(self) -> str:
        """A fresh file for the wrapper to say where the command ended (a signal-killed one writes nothing)."""
        if self._state_dir is None:
            self._state_dir = tempfile.mkdtemp(prefix="termagent-terminal-")
        state = os.path.join(self._state_dir, "cwd")
        Path(state).write_text("")
        return state

    async def close(self) -> None:
        """Each terminal is released when its command ends; only the state directory is left to remove."""
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "cwd": self.cwd, "output_cap_bytes": self._cap}
