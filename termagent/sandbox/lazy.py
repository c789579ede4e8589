"""Start the session's container in the background; the first command waits for it.

Start-up overlaps with the first model request, and a task that never runs a command
never waits for Docker at all. A failed start is remembered so the session can end
with exit code 5 instead of letting the model flail.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from termagent.sandbox.base import ExecResult, Sandbox, SandboxUnavailable

if TYPE_CHECKING:
    from termagent.protocol import JobView
    from termagent.sandbox.jobs import Job, JobRead


class LazySandbox(Sandbox):
    def __init__(self, factory: Callable[[], Sandbox], name: str = "docker") -> None:
        self._factory = factory
        self._inner: Sandbox | None = None
        self._task: asyncio.Task[None] | None = None
        self.failure: str | None = None
        self.used = False
        self.name = name

    def begin(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._start_inner())

    async def _start_inner(self) -> None:
        try:
            inner = await asyncio.to_thread(self._factory)
            await inner.start()
            self._inner = inner
        except SandboxUnavailable as exc:
            self.failure = str(exc)
        except Exception as exc:  # the engine refused a setting, the SDK failed: never fall back
            self.failure = f"sandbox failed to start: {type(exc).__name__}: {exc}"

    async def start(self) -> None:
        self.begin()
        assert self._task is not None
        await asyncio.shield(self._task)
        if self.failure:
            raise SandboxUnavailable(self.failure)

    @property
    def failed_in_use(self) -> str | None:
        """A failure only matters once a command needed the sandbox."""
        return self.failure if self.used else None

    async def exec(self, command: str, timeout_s: float, on_output: Callable[[str], None] | None = None) -> ExecResult:
        self.used = True
        await self.start()
        assert self._inner is not None
        try:
            return await self._inner.exec(command, timeout_s, on_output)
        except SandboxUnavailable as exc:
            self.failure = str(exc)
            raise

    @property
    def supports_jobs(self) -> bool:
        return True  # the Docker sandbox runs jobs; fixed before it has even started (tool set)

    async def _started(self) -> Sandbox:
        self.used = True
        await self.start()
        assert self._inner is not None
        return self._inner

    async def start_job(self, command: str) -> Job:
        return await (await self._started()).start_job(command)

    async def read_job(self, job_id: str) -> JobRead:
        return await (await self._started()).read_job(job_id)

    async def kill_job(self, job_id: str) -> JobRead:
        return await (await self._started()).kill_job(job_id)

    def job_views(self) -> tuple[JobView, ...]:
        return self._inner.job_views() if self._inner is not None else ()

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            try:
                await self._task
            except BaseException:
                pass
        if self._inner is not None:
            await self._inner.close()
            self._inner = None

    def describe(self) -> dict[str, Any]:
        if self._inner is not None:
            return self._inner.describe()
        return {"backend": self.name, "state": "failed" if self.failure else "starting", "error": self.failure}
