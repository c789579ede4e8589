"""Background jobs for the explicit `--sandbox none` backend (commands on the host).

Each job is a bash in its own session (so the group kill at job_kill reaches all of
it) carrying the sandbox's session marker, so `HostSandbox.close` kills it and
everything it forked even after it left its group: nothing outlives the session on the
host either. Its own per-job marker differs from every foreground command's, so the
sweep after a command spares it, and job_kill sweeps it (whatever left its group).
Output is pumped into a bounded in-memory spool.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Callable

from termagent.sandbox.jobs import (
    CHUNK_BYTES,
    KEEP_CHUNKS,
    STATUS_KILLED,
    Job,
    JobRead,
    JobTable,
    exited,
)
from termagent.sandbox.output_cap import ELISION_MARKER

SPOOL_BYTES = CHUNK_BYTES * KEEP_CHUNKS
READ_CHUNK = 65_536

# $1 = cwd, $2 = fallback cwd, $3 = command.
RUN = 'cd -- "$1" 2>/dev/null || cd -- "$2" || exit 1; ta_cmd=$3; set --; eval "$ta_cmd"'


class Spool:
    """The last SPOOL_BYTES of a stream, addressed by absolute offset."""

    def __init__(self, size: int = SPOOL_BYTES) -> None:
        self.size = size
        self.data = bytearray()
        self.start = 0  # absolute offset of data[0]

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        extra = len(self.data) - self.size
        if extra > 0:
            del self.data[:extra]
            self.start += extra

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    def read(self, offset: int, cap: int) -> tuple[str, int, int, int]:
        """(text, new offset, dropped, elided) for everything after `offset`, head and tail when over cap."""
        begin = max(offset, self.start)
        new = bytes(self.data[begin - self.start:])
        if len(new) <= cap:
            return new.decode("utf-8", errors="replace"), self.end, begin - offset, 0
        head, tail = cap // 2, cap - cap // 2
        text = (new[:head].decode("utf-8", errors="replace") + ELISION_MARKER.format(n=len(new) - cap)
                + new[-tail:].decode("utf-8", errors="replace"))
        return text, self.end, begin - offset, len(new) - cap


class HostJobs:
    """The job half of a HostSandbox."""

    def __init__(self, env: Callable[[str], dict[str, str]], kill_marked: Callable[[str], object],
                 fallback_cwd: str, cap: int, max_jobs: int) -> None:
        self._env = env
        self._kill_marked = kill_marked
        self._fallback = fallback_cwd
        self.cap = cap
        self.table = JobTable(max_jobs)
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._spools: dict[str, Spool] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._markers: dict[str, str] = {}  # per job: what its processes carry even outside its group

    async def start(self, command: str, cwd: str) -> Job:
        self.table.check_room()
        job_id = self.table.reserve()
        marker = secrets.token_hex(8)
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", RUN, "termagent-job", cwd, self._fallback, command,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=self._fallback, env=self._env(marker), start_new_session=True,
        )
        self._markers[job_id] = marker
        spool = Spool()
        self._procs[job_id], self._spools[job_id] = proc, spool
        self._pumps[job_id] = asyncio.ensure_future(_pump(proc, spool))
        return self.table.add(job_id, command, proc.pid)

    def read(self, job_id: str) -> JobRead:
        job = self.table.get(job_id)
        proc, spool = self._procs[job.id], self._spools[job.id]
        pump_done = self._pumps[job.id].done()
        text, end, dropped, elided = spool.read(job.offset, self.cap)
        changes: dict[str, object] = {"offset": end}
        if job.running and pump_done and proc.returncode is not None:
            code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
            changes.update(status=exited(code), exit_code=code)
        new_bytes = end - job.offset - dropped
        job = self.table.update(job, **changes)
        return JobRead(job, text, new_bytes, dropped, elided)

    async def kill(self, job_id: str) -> JobRead:
        job = self.table.get(job_id)
        if job.running:
            kill_group(job.sid)
            await asyncio.to_thread(self._kill_marked, self._markers[job.id])
            await asyncio.wait({self._pumps[job.id]}, timeout=2.0)
        final = self.read(job.id)
        if job.running:  # it ran until we killed it, however its exit then read
            job = self.table.update(final.job, status=STATUS_KILLED, exit_code=None)
            return JobRead(job, final.output, final.new_bytes, final.dropped_bytes, final.elided_bytes)
        return final

    async def close(self) -> None:
        for job in self.table.all():
            kill_group(job.sid)
        for task in self._pumps.values():
            task.cancel()
        for proc in self._procs.values():
            if proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), 2.0)
                except (TimeoutError, ProcessLookupError):
                    pass


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _pump(proc: asyncio.subprocess.Process, spool: Spool) -> None:
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(READ_CHUNK):
        spool.feed(chunk)
    await proc.wait()
