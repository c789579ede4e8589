"""bash: run one shell command in the session's sandbox.

The command runs in the session's long-lived container (or, only with an explicit
`--sandbox none`, on the host): no network, writes only to the workspace, a timeout
that kills the whole process group, stdin from /dev/null and a head-and-tail output
cap. The result always ends with one footer line saying how the command ended, so the
model can tell a failure from a timeout from an out-of-memory kill.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from termagent.protocol import RISK_EXEC, Subject, ViewKind
from termagent.sandbox.base import SandboxUnavailable
from termagent.tools.base import CallView, ToolContext, ToolError, ToolResult, ToolSpec, one_line, schema
from termagent.tools.jobs import start_background

if TYPE_CHECKING:
    from termagent.sandbox.base import ExecResult

# Linux refuses a single argument longer than 128 KiB (MAX_ARG_STRLEN).
MAX_COMMAND_BYTES = 100_000

DESCRIPTION = (
    "Run a bash command in the sandbox: a Linux container with the workspace mounted at /workspace, "
    "no network access, read-only outside /workspace, /tmp and $HOME, and .git and .termagent read-only "
    "(commit with git_commit instead). The working directory persists between calls (a `cd` carries "
    "over). stdin is /dev/null, so interactive programs (less, vim, read, prompts) get EOF: pass "
    "non-interactive flags. Output is capped: the head and tail are kept and the middle is elided. "
    "Every command has a timeout (timeout_s) after which its whole process group is killed; background "
    "processes (`cmd &`) do not survive the command. For a dev server, watcher or other long-running "
    "process set run_in_background: the call returns at once with a job id, the job keeps running "
    "(no timeout) until job_kill or the session ends, later commands can reach its ports, and "
    "job_output reads what it printed. Memory, processes and file size (1 GiB per file) are limited. "
    "Do NOT use it to read, list or search files (use read_file, list_files, grep), to edit files "
    "(use edit_file / write_file), or for long verbose runs such as a full test suite (use delegate "
    "with the test_runner agent, which returns a short summary)."
)


class BashTool:
    spec = ToolSpec(
        name="bash",
        description=DESCRIPTION,
        input_schema=schema(
            {
                "command": {"type": "string", "description": "the bash command line to run"},
                "timeout_s": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "seconds before the command is killed (default and maximum come from config)",
                },
                "run_in_background": {
                    "type": "boolean",
                    "description": "start the command as a background job and return its id at once "
                                   "(read it with job_output, stop it with job_kill)",
                },
            },
            ["command"],
        ),
        risk=RISK_EXEC,
        subject=Subject.COMMAND,
    )

    def describe(self, args: dict[str, Any], root: Path) -> CallView:
        command = str(args.get("command", ""))
        if args.get("run_in_background"):
            return CallView("[background] " + one_line(command), command, ViewKind.COMMAND)
        return CallView(one_line(command), command, ViewKind.COMMAND)

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command = str(args.get("command", ""))
        _check_command(command)
        if ctx.sandbox is None:
            raise ToolError("sandbox_unavailable", "no sandbox in this session: commands cannot run")
        if args.get("run_in_background"):
            return await start_background(command, ctx)
        timeout_s, note = _timeout(args.get("timeout_s"), ctx)
        if ctx.before_change is not None:
            await ctx.before_change("")
        try:
            result = await ctx.sandbox.exec(command, timeout_s, on_output=ctx.emit_output)
        except SandboxUnavailable as exc:
            raise ToolError("sandbox_unavailable", str(exc)) from None
        limit = str(ctx.config.get("sandbox", "memory"))
        text = format_result(result, timeout_s, limit, note, _root_cwd(ctx))
        text += "".join(f"\n[warning: {warning}]" for warning in result.warnings)
        for warning in result.warnings:
            ctx.warn(f"bash: {warning}")
        if result.full_output and ctx.artifacts is not None:
            artifact_id = ctx.artifacts.put_artifact(ctx.session_id, "bash", result.full_output)
            lines = result.full_output.count("\n") + 1
            text += f"\n[full output ({lines} lines) stored as {artifact_id}: read slices with read_artifact]"
        return ToolResult(output=text, ok=not (result.timed_out or result.oom_killed),
                          error_type="timeout" if result.timed_out else "oom" if result.oom_killed else None)


def _check_command(command: str) -> None:
    if not command.strip():
        raise ToolError("invalid_input", "command is empty")
    if "\x00" in command:
        raise ToolError("invalid_input", "command contains a NUL byte")
    if len(command.encode("utf-8", errors="replace")) > MAX_COMMAND_BYTES:
        raise ToolError(
            "invalid_input",
            f"command is longer than {MAX_COMMAND_BYTES} bytes; write a script with write_file and run that",
        )


def _timeout(requested: Any, ctx: ToolContext) -> tuple[int, str]:
    default = int(ctx.config.get("sandbox", "timeout_default_s"))
    maximum = int(ctx.config.get("sandbox", "timeout_max_s"))
    if requested is None:
        return min(default, maximum), ""
    try:
        value = int(requested)
    except (TypeError, ValueError):
        raise ToolError("invalid_input", f"timeout_s must be an integer, got {requested!r}") from None
    if value < 1:
        raise ToolError("invalid_input", "timeout_s must be at least 1")
    if value > maximum:
        return maximum, f"timeout_s {value} exceeds the maximum; used {maximum}s"
    return value, ""


def _root_cwd(ctx: ToolContext) -> tuple[str, ...]:
    """The cwds that need no mention: the workspace root inside and outside a container."""
    return ("/workspace", str(ctx.root))


def format_result(result: ExecResult, timeout_s: float, memory_limit: str, note: str = "",
                  quiet_cwds: tuple[str, ...] = ("/workspace",)) -> str:
    """Output, then one footer line: exit code, timeout or out-of-memory kill."""
    if result.timed_out:
        footer = f"timed out after {timeout_s:g}s (process group killed)"
    elif result.oom_killed:
        footer = f"killed: out of memory (limit {memory_limit})"
    else:
        footer = f"exit code: {result.exit_code if result.exit_code is not None else 'unknown'}"
    extras = [note] if note else []
    if result.cwd not in quiet_cwds:
        extras.append(f"cwd: {result.cwd}")
    if extras:
        footer += " [" + "; ".join(extras) + "]"
    body = result.output
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{body}{footer}"
