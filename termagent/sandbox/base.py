"""The sandbox interface the `bash` tool runs commands through.

The core only knows this interface; the Docker backend (which imports the docker SDK)
is loaded lazily by `termagent.sandbox.open_sandbox`, so headless runs that never
execute a command do not pay for it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from termagent.protocol import JobView
    from termagent.sandbox.jobs import Job, JobRead


class SandboxUnavailable(Exception):
    """No engine, no image, or the engine refused our settings: exit code 5."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    output: str
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    elided_bytes: int = 0
    cwd: str = "/workspace"
    full_output: str | None = None  # the whole output (bounded) when the capped one elided some
    warnings: tuple[str, ...] = ()  # what the command tried that the person should know about


class Sandbox(ABC):
    name: str = "sandbox"

    def begin(self) -> None:
        """Start getting ready in the background, so the first command does not wait (default: nothing)."""

    @property
    def failed_in_use(self) -> str | None:
        """Why the sandbox died after it had started, if it did: the session then ends its turn."""
        return None

    @abstractmethod
    async def start(self) -> None:
        """Create whatever lives for the session (the container); raise SandboxUnavailable."""

    @abstractmethod
    async def exec(
        self,
        command: str,
        timeout_s: float,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecResult:
        """Run one command in the session's cwd; a `cd` carries over to the next call."""

    @property
    def supports_jobs(self) -> bool:
        """Whether `bash` may run commands in the background here (see sandbox/jobs.py)."""
        return False

    async def start_job(self, command: str) -> Job:
        """Start `command` in the background in the session's cwd; raise JobError."""
        from termagent.sandbox.jobs import JobError

        raise JobError("unsupported", f"the {self.name} sandbox cannot run background jobs")

    async def read_job(self, job_id: str) -> JobRead:
        """The job's output since the last read (capped) and its status; raise JobError."""
        from termagent.sandbox.jobs import JobError

        raise JobError("unknown_job", f"there is no background job {job_id!r}")

    async def kill_job(self, job_id: str) -> JobRead:
        """Kill the job's whole process group (and session); its last output; raise JobError."""
        return await self.read_job(job_id)

    def job_views(self) -> tuple[JobView, ...]:
        """The session's jobs (id, command, status) in start order, for status()."""
        return ()

    @abstractmethod
    async def close(self) -> None:
        """Remove the session's container; safe to call twice."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Engine, image and limits, for `termagent sandbox status` and the status bar."""


SandboxFactory = Callable[[str], Sandbox]  # the session id -> that session's sandbox (not yet started)
