"""job_output and job_kill, and the background half of `bash` (run_in_background).

A background command goes through the same policy check as a foreground one (the
policy reads `command` from the bash input, whatever else the input says), so
`run_in_background` can never be a way around a destructive-command approval. The
job itself lives in the sandbox (sandbox/jobs.py); these tools only start, read and
stop it and word the result for the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from termagent.protocol import RISK_EXEC, RISK_READ, ViewKind
from termagent.sandbox.base import Sandbox, SandboxUnavailable
from termagent.sandbox.jobs import JobError, JobRead, format_read, started_text
from termagent.tools.base import (
    CallView,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSpec,
    one_line,
    schema,
)

ID_SCHEMA = {"id": {"type": "string", "description": "the job id bash returned, e.g. job-1"}}


async def start_background(command: str, ctx: ToolContext) -> ToolResult:
    """Start `command` as a job in the session's sandbox; the result names its id."""
    sandbox = _sandbox(ctx)
    if not sandbox.supports_jobs:
        raise ToolError("unsupported", f"the {sandbox.name} sandbox cannot run background jobs")
    if ctx.before_change is not None:
        await ctx.before_change("")
    try:
        job = await sandbox.start_job(command)
    except JobError as exc:
        raise ToolError(exc.kind, str(exc)) from None
    except SandboxUnavailable as exc:
        raise ToolError("sandbox_unavailable", str(exc)) from None
    return ToolResult(output=started_text(job))


def _sandbox(ctx: ToolContext) -> Sandbox:
    if ctx.sandbox is None:
        raise ToolError("sandbox_unavailable", "no sandbox in this session: commands cannot run")
    return ctx.sandbox


def _result(read: JobRead) -> ToolResult:
    return ToolResult(output=format_read(read))


class _JobTool:
    """One job, named by id: shown as the id, its errors as structured tool errors."""

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        job_id = str(args.get("id", ""))
        return CallView(one_line(job_id), job_id, ViewKind.TEXT)

    async def act(self, sandbox: Sandbox, job_id: str) -> JobRead:
        raise NotImplementedError

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            return _result(await self.act(_sandbox(ctx), str(args.get("id", ""))))
        except JobError as exc:
            raise ToolError(exc.kind, str(exc)) from None
        except SandboxUnavailable as exc:
            raise ToolError("sandbox_unavailable", str(exc)) from None


class JobOutputTool(_JobTool):
    spec = ToolSpec(
        name="job_output",
        description=(
            "Read what a background job (started with bash run_in_background) printed since the last "
            "read, and whether it is still running or how it exited. Output is capped like bash output "
            "(head and tail kept); a job that prints faster than it is read loses its oldest output, "
            "and the result says how much. Do NOT poll it in a tight loop: run other work, or a bash "
            "command that waits for what you need (a port to answer, a file to appear)."
        ),
        input_schema=schema(ID_SCHEMA, ["id"]),
        risk=RISK_READ,
    )

    async def act(self, sandbox: Sandbox, job_id: str) -> JobRead:
        return await sandbox.read_job(job_id)


class JobKillTool(_JobTool):
    spec = ToolSpec(
        name="job_kill",
        description=(
            "Stop a background job: its whole process group and session are killed (SIGKILL), and its "
            "last output is returned. Jobs also end with the session, so do NOT kill one only to tidy "
            "up; kill it when it must stop (a server to restart, a watcher that misbehaves)."
        ),
        input_schema=schema(ID_SCHEMA, ["id"]),
        risk=RISK_EXEC,
    )

    async def act(self, sandbox: Sandbox, job_id: str) -> JobRead:
        return await sandbox.kill_job(job_id)


def job_tools() -> list[Any]:
    """The fixed job tools: present in every session with a sandbox that runs jobs."""
    return [JobOutputTool(), JobKillTool()]
