"""The explicit `--sandbox none` backend: commands run on the host, unconfined.

Chosen only by a person (never as a fall-back when Docker is missing). It still keeps
the guarantees that do not need a container: its own process group killed at the
timeout (and leftovers killed when the command ends, even those that left the group:
see `marked_processes`), stdin from /dev/null, the same
head-and-tail output cap, a `cd` that carries over, and an environment without API
keys or other credentials, so a prompt-injected `env` cannot leak them.

A command can leave its process group (`setsid sleep 1000 &`, a daemon that
double-forks), so every command also carries a marker variable unique to this sandbox
(TERMAGENT_SESSION_MARK); at close, every process group it started is killed and then
every process of this user whose environment still carries the marker.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from termagent.protocol import JobView
from termagent.sandbox.base import ExecResult, Sandbox
from termagent.sandbox.host_jobs import HostJobs
from termagent.sandbox.jobs import Job, JobRead
from termagent.sandbox.marked_processes import boot_ticks, kill_marked
from termagent.sandbox.docker_settings import SandboxLimits
from termagent.sandbox.output_cap import HeadTailBuffer, LiveForwarder
from termagent.sandbox.wrapper import INNER, read_cwd
from termagent.tracecontext import with_traceparent

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|SESSION|COOKIE)", re.IGNORECASE)
_SECRET_PREFIXES = ("ANTHROPIC_", "OPENAI_", "AWS_", "GOOGLE_", "AZURE_", "GH_", "GITHUB_", "SSH_", "GPG_")
MARK_VARIABLE = "TERMAGENT_SESSION_MARK"  # every command of this sandbox: killed at close
EXEC_MARKER = "TERMAGENT_EXEC_ID"  # one command: what it left is killed when it ends
READ_CHUNK = 65_536
DRAIN_AFTER_EXIT_S = 2.0


def host_environment(source: dict[str, str] | None = None) -> dict[str, str]:
    """The host environment minus anything that looks like a credential."""
    env = dict(os.environ if source is None else source)
    for name in list(env):
        if name.startswith(_SECRET_PREFIXES) or _SECRET_NAME.search(name):
            del env[name]
    env.update({"TERM": "dumb", "PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
    return env


class HostSandbox(Sandbox):
    name = "none"

    def __init__(self, limits: SandboxLimits, workspace: Path, session_id: str) -> None:
        self.limits = limits
        self.workspace = workspace.resolve()
        self.session_id = session_id
        self.cwd = str(self.workspace)
        self._state_dir: str | None = None
        self._lock = asyncio.Lock()
        self.mark = f"{session_id}-{secrets.token_hex(8)}"
        self._groups: set[int] = set()
        self._born = boot_ticks()  # nothing older than this sandbox can carry its markers
        self.jobs = HostJobs(self._environment, self._kill_exec_leftovers, str(self.workspace),
                             limits.output_cap_bytes, limits.max_jobs)

    @property
    def supports_jobs(self) -> bool:
        return True

    async def start_job(self, command: str) -> Job:
        await self.start()
        return await self.jobs.start(command, self.cwd)

    async def read_job(self, job_id: str) -> JobRead:
        return self.jobs.read(job_id)

    async def kill_job(self, job_id: str) -> JobRead:
        return await self.jobs.kill(job_id)

    def job_views(self) -> tuple[JobView, ...]:
        return self.jobs.table.views()

    async def start(self) -> None:
        if self._state_dir is None:
            self._state_dir = tempfile.mkdtemp(prefix="termagent-host-")

    async def exec(
        self,
        command: str,
        timeout_s: float,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecResult:
        await self.start()
        async with self._lock:
            return await self._exec_locked(command, timeout_s, on_output)

    async def _exec_locked(
        self, command: str, timeout_s: float, on_output: Callable[[str], None] | None
    ) -> ExecResult:
        assert self._state_dir is not None
        started = time.monotonic()
        state = os.path.join(self._state_dir, "cwd")
        Path(state).write_text("")
        output = HeadTailBuffer(self.limits.output_cap_bytes)
        live = LiveForwarder(on_output)
        read_fd, write_fd = os.pipe()
        marker = secrets.token_hex(8)
        try:
            proc = await asyncio.create_subprocess_exec(
                "bash", "-c", INNER, "bash", self.cwd, state, command, str(self.workspace),
                stdin=asyncio.subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                cwd=str(self.workspace), env=self._environment(marker),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        self._groups.add(proc.pid)
        reader = asyncio.ensure_future(_pump(read_fd, output, live))
        try:
            timed_out = await _wait_or_kill(proc, timeout_s)
        finally:
            _kill_group(proc.pid)
            await asyncio.to_thread(self._kill_exec_leftovers, marker)
        try:
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_AFTER_EXIT_S)
        except (TimeoutError, asyncio.CancelledError):
            reader.cancel()  # a process that left the group still holds the pipe
        live.close()
        self.cwd = read_cwd(state, self.cwd)
        return ExecResult(
            exit_code=_shell_code(proc.returncode),
            output=output.render(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            elided_bytes=max(output.elided, 0),
            cwd=self.cwd,
            full_output=output.full_text(),
        )

    def _kill_exec_leftovers(self, exec_marker: str) -> int:
        return kill_marked(EXEC_MARKER, exec_marker, self._born)

    def _environment(self, exec_marker: str) -> dict[str, str]:
        """No credentials; the markers that let leftovers be found; the running span's trace."""
        marks = {MARK_VARIABLE: self.mark, EXEC_MARKER: exec_marker}
        return with_traceparent({**host_environment(), **marks})

    async def close(self) -> None:
        """Kill what the session's commands and jobs left running, then drop the state directory."""
        await self.jobs.close()
        for pgid in sorted(self._groups):
            _kill_group(pgid)
        self._groups.clear()
        kill_marked(MARK_VARIABLE, self.mark, self._born)
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "none",
            "state": "host (unsandboxed)",
            "workspace": str(self.workspace),
            "cwd": self.cwd,
            "network": "host",
        }


async def _wait_or_kill(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """Wait for the command; at the timeout (or on cancel) kill its whole group."""
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
        return False
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        return True
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        raise


def _shell_code(returncode: int | None) -> int | None:
    """Exit status as a shell reports it: a signal N becomes 128 + N."""
    if returncode is None or returncode >= 0:
        return returncode
    return 128 - returncode


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _pump(fd: int, output: HeadTailBuffer, live: LiveForwarder) -> None:
    """Copy the pipe into the capped buffer until EOF; the transport owns (and closes) fd."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_CHUNK)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        while chunk := await reader.read(READ_CHUNK):
            output.feed(chunk)
            live.feed(chunk)
    finally:
        transport.close()
