"""Background jobs: what a job is, the job table every backend keeps, and the reads.

A job is one `bash` command started with `run_in_background`: it runs beside later
commands in the same sandbox, its output goes to a bounded spool, and the model reads
what is new with `job_output` and stops it with `job_kill`. The table lives on the
termagent side (never inside the sandbox), so a command cannot forge a job or hide
one: the backend passes the live jobs' session ids to the per-command reaper, which
spares exactly those, and everything else a command leaves behind still dies.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

from termagent.protocol import JobView

MAX_JOBS_DEFAULT = 4
# Spool per job: this many chunks of this size (older chunks are dropped, and counted).
CHUNK_BYTES = 1 << 20
KEEP_CHUNKS = 4

STATUS_RUNNING = "running"
STATUS_KILLED = "killed"


class JobError(Exception):
    """A job request that cannot be served (unknown id, too many jobs, no support)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Job:
    """One background job as termagent knows it."""

    id: str
    command: str
    sid: int  # session (and process group) id of its supervisor inside the sandbox
    started: float
    status: str = STATUS_RUNNING  # running | exited N | killed
    exit_code: int | None = None
    offset: int = 0  # bytes of output already handed to the model

    @property
    def running(self) -> bool:
        return self.status == STATUS_RUNNING

    def view(self) -> JobView:
        return JobView(self.id, self.command, self.status)


@dataclass(frozen=True)
class JobRead:
    """What `job_output` returns: new output (already capped) and the job's state."""

    job: Job
    output: str
    new_bytes: int
    dropped_bytes: int = 0  # output the spool no longer held (it was not read in time)
    elided_bytes: int = 0  # new output cut from the middle by the output cap


def exited(code: int | None) -> str:
    return f"exited {code}" if code is not None else "exited"


class JobTable:
    """The session's jobs in start order, with the cap on how many run at once."""

    def __init__(self, max_jobs: int = MAX_JOBS_DEFAULT) -> None:
        self.max_jobs = max_jobs
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)

    def check_room(self) -> None:
        running = [job for job in self._jobs.values() if job.running]
        if len(running) >= self.max_jobs:
            names = ", ".join(job.id for job in running)
            raise JobError("too_many_jobs", f"{len(running)} background jobs are running ({names}), the "
                           f"limit is {self.max_jobs}: stop one with job_kill or wait for it to finish")

    def reserve(self) -> str:
        """The id the next job will have (its spool directory is named after it)."""
        return f"job-{next(self._ids)}"

    def add(self, job_id: str, command: str, sid: int) -> Job:
        job = Job(job_id, command, sid, time.time())
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id.strip())
        if job is None:
            known = ", ".join(self._jobs) or "none"
            raise JobError("unknown_job", f"there is no background job {job_id!r} (jobs: {known})")
        return job

    def update(self, job: Job, **changes: object) -> Job:
        new = replace(job, **changes)  # type: ignore[arg-type]
        self._jobs[job.id] = new
        return new

    def running_sids(self) -> tuple[int, ...]:
        return tuple(job.sid for job in self._jobs.values() if job.running)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def views(self) -> tuple[JobView, ...]:
        return tuple(job.view() for job in self._jobs.values())


def format_read(read: JobRead) -> str:
    """The text the model gets: the new output, then one status line."""
    job = read.job
    notes = []
    if read.dropped_bytes:
        notes.append(f"{read.dropped_bytes} bytes of older output were dropped before this read")
    body = read.output
    if body and not body.endswith("\n"):
        body += "\n"
    state = "still running" if job.running else job.status
    footer = f"[{job.id}: {state}; {read.new_bytes} new bytes"
    footer += "".join(f"; {note}" for note in notes) + "]"
    if not read.new_bytes and not read.dropped_bytes:
        body = "(no new output)\n"
    return body + footer


def started_text(job: Job) -> str:
    return (f"started background job {job.id} (it keeps running after this call; read its output with "
            f"job_output(id={job.id!r}), stop it with job_kill(id={job.id!r}); it ends with the session)")
