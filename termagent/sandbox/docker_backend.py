"""The Docker sandbox: one long-lived locked-down container per session.

Start-up costs a container; each command then costs one `exec`, which is several
times cheaper than `docker run --rm` per command (see scripts/bench_sandbox.py).
Every Docker call blocks, so each runs in a worker thread; commands of one session
run one at a time (the wrapper kills leftovers of the previous command, and a shared
cwd only makes sense in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.protocol import JobView
from termagent.sandbox.base import ExecResult, Sandbox, SandboxUnavailable
from termagent.sandbox.engine import brief as _brief
from termagent.sandbox.engine import connect_engine
from termagent.sandbox.docker_settings import (
    ENV_ALLOWLIST,
    STATE_DIR,
    WORKSPACE,
    SandboxLimits,
    SandboxRootRefused,
    run_kwargs,
    sandbox_user,
)
from termagent.sandbox.docker_job_agent import AgentBroken, JobAgent
from termagent.sandbox.docker_jobs import DockerJobs
from termagent.sandbox.docker_stream import ExecStream
from termagent.sandbox.output_cap import HeadTailBuffer, LiveForwarder
from termagent.sandbox.reaper import owner_labels, reap_stale
from termagent.sandbox.git_scan import GitScan
from termagent.sandbox.network import AuditWriter, Egress
from termagent.sandbox.caches import CacheVolume
from termagent.sandbox.jobs import Job, JobRead
from termagent.sandbox.project_image import ImageChoice, choose_image
from termagent.sandbox.run_extras import extend_run, finish_run
from termagent.sandbox.watched_names import Snapshot, restore, snapshot
from termagent.sandbox.workspace_guard import (
    GuardPlan,
    displaced_warnings,
    identities,
    new_git_warnings,
    plan_guard,
)
from termagent.sandbox.wrapper import INNER, KILL_ALL, OUTER, parse_report
from termagent.tracecontext import with_traceparent

# The in-container watchdog fires at the timeout; the host steps in only if it failed.
HOST_GRACE_S = 5.0
DRAIN_AFTER_KILL_S = 5.0


def container_name(session_id: str) -> str:
    """A valid, unique Docker name that still shows which session a container serves."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", session_id)[:32]
    return f"termagent-{safe}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Before:
    """What the guard recorded right before a command."""

    watched: tuple[Snapshot, ...]
    pinned: tuple[tuple[str, int, int], ...]


def _remove_tree(path: str) -> None:
    """Remove a stand-in directory even though its empty dir is read-only."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path, ignore_errors=True)


class DockerSandbox(Sandbox):
    name = "docker"

    def __init__(self, limits: SandboxLimits, workspace: Path, session_id: str,
                 egress_audit: AuditWriter | None = None) -> None:
        self.limits = limits
        self.workspace = workspace.resolve()
        self.session_id = session_id
        self.cwd = WORKSPACE
        self._client: Any = None
        self._container: Any = None
        self._keeper = ""
        self._uid = ""
        self._standins: str | None = None
        self._lock = asyncio.Lock()
        self.reaped: list[str] = []
        self.guard: GuardPlan | None = None
        self._git_scan: GitScan | None = None
        self._egress = Egress(limits.egress, session_id, {}, egress_audit)
        self.image = ImageChoice(limits.image, "not started yet")
        self.cache_volumes: tuple[CacheVolume, ...] = ()
        self._agent: JobAgent | None = None
        self.jobs = DockerJobs(self._run_argv, limits.output_cap_bytes, limits.max_jobs)

    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container is not None else None

    async def start(self) -> None:
        if self._container is None:
            await asyncio.to_thread(self._start_blocking)

    def _start_blocking(self) -> None:
        try:
            self._uid = sandbox_user(self.limits)
        except SandboxRootRefused as exc:
            raise SandboxUnavailable(str(exc)) from None
        client = connect_engine()
        self.reaped = reap_stale(client)
        self.image = choose_image(client, self.limits, self.workspace)
        self._standins = tempfile.mkdtemp(prefix="termagent-standins-")
        self.guard, self._git_scan = plan_guard(self.workspace, Path(self._standins))
        labels = owner_labels(self.session_id, str(self.workspace))
        self._egress.labels = labels
        try:
            self._egress.start(client)  # allowlist mode: networks and the proxy sidecar; else nothing
            kwargs = self._egress.container_kwargs(run_kwargs(self.limits, self.workspace, labels, self.guard.read_only))
            self.cache_volumes = extend_run(client, self.limits, self.workspace, kwargs, self.image.tag)
            container = client.containers.run(name=container_name(self.session_id), **kwargs)
        except Exception as exc:
            self._egress.close()
            _remove_tree(self._standins)
            self._standins = None
            if isinstance(exc, SandboxUnavailable):
                raise
            raise SandboxUnavailable(f"Docker refused to start the sandbox container: {_brief(exc)}") from None
        self._client, self._container = client, container
        try:
            self._keeper = self._find_keeper()
            finish_run(container, self.cache_volumes)
        except Exception as exc:
            self._remove_quietly()
            self._egress.close()
            raise SandboxUnavailable(f"sandbox container did not start: {_brief(exc)}") from None

    def _find_keeper(self) -> str:
        """The pid of `sleep infinity` under init: the one process leftovers-reaping spares."""
        code, out = self._container.exec_run(["cat", "/proc/1/task/1/children"], user=self._user())
        pids = out.decode().split()
        if code != 0 or not pids:
            raise SandboxUnavailable(f"cannot inspect the container (exit {code}): {out[:200]!r}")
        return pids[0]

    def _user(self) -> str:
        return self._uid

    async def exec(
        self,
        command: str,
        timeout_s: float,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecResult:
        if self._container is None:
            await self.start()
        async with self._lock:
            return await self._exec_locked(command, timeout_s, on_output)

    async def _exec_locked(
        self, command: str, timeout_s: float, on_output: Callable[[str], None] | None
    ) -> ExecResult:
        started = time.monotonic()
        before = await asyncio.to_thread(self._before_command)
        loop = asyncio.get_running_loop()
        deliver = None
        if on_output is not None:
            def deliver(text: str) -> None:  # called from the reader thread
                loop.call_soon_threadsafe(on_output, text)
        stream = await asyncio.to_thread(self._open_exec, command, timeout_s, deliver)
        drain = asyncio.ensure_future(asyncio.to_thread(stream.drain))
        host_killed = False
        try:
            await asyncio.wait_for(asyncio.shield(drain), timeout_s + HOST_GRACE_S)
        except TimeoutError:
            host_killed = True
            await self._host_kill(stream, drain)
        except asyncio.CancelledError:
            await self._host_kill(stream, drain)
            await asyncio.to_thread(self._after_command, before)  # undo even when nobody reads the warning
            raise
        except Exception as exc:  # the connection to the engine broke mid-command
            self._after_command(before)
            raise SandboxUnavailable(f"lost the sandbox exec stream: {_brief(exc)}") from None
        report = parse_report(bytes(stream.control), self.cwd)
        if report is not None:
            self.cwd = report.cwd
        elif not host_killed:
            await asyncio.to_thread(self._kill_all_blocking)  # the wrapper died: sweep its leftovers
        exit_code = report.exit_code if report else await asyncio.to_thread(self._exit_code, stream.exec_id)
        warnings = await asyncio.to_thread(self._after_command, before)
        return ExecResult(
            exit_code=exit_code,
            output=stream.output.render(),
            duration_s=time.monotonic() - started,
            timed_out=host_killed or (report is not None and report.timed_out),
            oom_killed=report is not None and report.oom_killed,
            elided_bytes=max(stream.output.elided, 0),
            cwd=self.cwd,
            full_output=stream.output.full_text(),
            warnings=tuple(warnings),
        )

    def _before_command(self) -> Before:
        """The state to compare with afterwards, taken now so host-side edits in between stay."""
        if self.guard is None:
            return Before((), ())
        return Before(snapshot(self.workspace, self.guard.watched), identities(self.guard.pinned))

    def _after_command(self, before: Before) -> list[str]:
        """Undo and report what the command planted where host programs would run it."""
        self._egress.collect()
        warnings = restore(self.workspace, before.watched) + displaced_warnings(before.pinned)
        return warnings + (new_git_warnings(self._git_scan) if self._git_scan is not None else [])

    def _open_exec(self, command: str, timeout_s: float, deliver: Callable[[str], None] | None) -> ExecStream:
        api = self._client.api
        cmd = ["bash", "-c", OUTER, "termagent", self.cwd, command, f"{timeout_s:g}", self._keeper,
               f"{STATE_DIR}/cwd", INNER, self._spared()]
        try:
            created = api.exec_create(self._container.id, cmd, user=self._user(), workdir=WORKSPACE,
                                      environment=with_traceparent({**ENV_ALLOWLIST, **self._egress.env}))
            sock = api.exec_start(created["Id"], socket=True)
        except Exception as exc:
            raise SandboxUnavailable(f"sandbox exec failed: {_brief(exc)}") from None
        return ExecStream(sock, HeadTailBuffer(self.limits.output_cap_bytes), LiveForwarder(deliver), created["Id"])

    def _exit_code(self, exec_id: str) -> int | None:
        try:
            return self._client.api.exec_inspect(exec_id).get("ExitCode")
        except Exception:
            return None

    async def _host_kill(self, stream: ExecStream, drain: asyncio.Future[None]) -> None:
        """The watchdog inside did not end the command: kill everything from outside."""
        killed = await asyncio.to_thread(self._kill_all_blocking)
        if not killed:
            await asyncio.to_thread(self._restart_blocking)
        try:
            await asyncio.wait_for(asyncio.shield(drain), DRAIN_AFTER_KILL_S)
        except TimeoutError:
            stream.shutdown()  # something still holds the output open: stop reading
            await asyncio.wait({drain}, timeout=DRAIN_AFTER_KILL_S)

    def _kill_all_blocking(self) -> bool:
        try:
            code, _ = self._container.exec_run(["bash", "-c", KILL_ALL, "termagent", self._keeper, self._spared()],
                                               user=self._user())
            return code == 0
        except Exception:
            return False

    def _restart_blocking(self) -> None:
        """Last resort (the container cannot even fork a killer): restart it (its jobs die too)."""
        self.jobs.container_restarted()
        if self._agent is not None:
            self._agent.close()
            self._agent = None
        try:
            self._container.restart(timeout=0)
            self._keeper = self._find_keeper()
            self.cwd = WORKSPACE
        except Exception:
            pass

    # ------------------------------------------------------------ background jobs (docker_jobs)

    def _spared(self) -> str:
        """Session ids of running jobs and the job agent: the per-command reaper leaves them alone."""
        agent = (self._agent.sid,) if self._agent is not None else ()
        return " ".join(str(sid) for sid in (*agent, *self.jobs.table.running_sids()))

    def _run_argv(self, argv: list[str]) -> tuple[int, bytes]:
        """Run a job script: through the job agent (no exec per call), else one exec."""
        environment = dict(ENV_ALLOWLIST)
        if self._agent is None:
            with contextlib.suppress(Exception):
                self._agent = JobAgent(self._client, self._container.id, self._user(), environment)
        if self._agent is not None:
            try:
                return self._agent.run(argv)
            except AgentBroken:
                self._agent = None
        code, out = self._container.exec_run(argv, user=self._user(), stderr=False, workdir=WORKSPACE,
                                             environment=environment)
        return int(code if code is not None else -1), bytes(out or b"")

    @property
    def supports_jobs(self) -> bool:
        return True

    async def start_job(self, command: str) -> Job:
        if self._container is None:
            await self.start()
        async with self._lock:
            return await asyncio.to_thread(self.jobs.start, command, self.cwd)

    async def read_job(self, job_id: str) -> JobRead:
        async with self._lock:
            return await asyncio.to_thread(self.jobs.read, job_id)

    async def kill_job(self, job_id: str) -> JobRead:
        async with self._lock:
            return await asyncio.to_thread(self.jobs.kill, job_id)

    def job_views(self) -> tuple[JobView, ...]:
        return self.jobs.table.views()

    async def close(self) -> None:
        if self._container is not None:
            await asyncio.to_thread(self._remove_quietly)
        await asyncio.to_thread(self._egress.close)
        if self._standins is not None:
            standins, self._standins = self._standins, None
            await asyncio.to_thread(_remove_tree, standins)

    def _remove_quietly(self) -> None:
        agent, self._agent = self._agent, None
        if agent is not None:
            agent.close()
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.remove(force=True)
        except Exception:
            pass

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "docker",
            "image": self.image.tag,
            "image_reason": self.image.reason,
            "caches": [volume.name for volume in self.cache_volumes] if self.limits.caches else "off",
            "container": self.container_id,
            "state": "running" if self._container is not None else "stopped",
            "workspace": str(self.workspace),
            "cwd": self.cwd,
            **self._egress.describe(),
            "memory": self.limits.memory,
            "pids": self.limits.pids,
            "cpus": self.limits.cpus,
            "tmpfs_size": self.limits.tmpfs_size,
            "read_only_mounts": [dst for _, dst in self.guard.read_only] if self.guard else [],
            "git_scan": "complete" if self.guard is None or self.guard.scan_complete else "stopped: tree too big",
            "seccomp": "docker default, no setuid modes, " + ("ptrace allowed" if self.limits.allow_ptrace else "no ptrace"),
        }
