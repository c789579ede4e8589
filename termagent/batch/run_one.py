"""One task, start to finish: its copy, its own `termagent --task -` process, its diff.

The agent runs as a child process rather than in-process through the door because a
batch of hundreds must survive any one task: a crash, a hang, a runaway tool or a leaked
environment change ends that process only. The child gets its own process group (the
batch, not the terminal, decides when it is interrupted) and dies with its parent
(PR_SET_PDEATHSIG), so a Ray worker that is killed takes its task with it before the retry.

The same function runs in a local worker thread and inside a Ray worker; it returns a
plain dict (JSON-able, secret-free) that the driver writes as the task's result line.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from termagent.batch.tasks import Task
from termagent.batch.workspace import WorkspaceError, final_diff, prepare
from termagent.exits import EXIT_LIMIT, EXIT_USAGE, ExitReason, code_for_reason
from termagent.gitsafe import GitError

SECRET_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
STDERR_TAIL = 2000
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunOptions:
    """Batch-wide settings for every task; a task line's own mode/model/limits win."""

    sandbox: str | None = None
    mode: str | None = None
    model: str | None = None
    max_turns: int | None = None
    max_cost_usd: float | None = None
    max_wall_s: float | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    trust_project: bool = False
    sandbox_allow_root: bool = False
    timeout_s: float = 3600.0  # the harness's own bound on one task, past termagent's --max-wall-s
    grace_s: float = 20.0  # how long an interrupted child may take to close its session
    work_dir: str | None = None
    keep_workspaces: bool = False


@dataclass(frozen=True)
class AgentRun:
    code: int
    payload: dict[str, Any]


def run_task(task: Task, options: RunOptions,
             on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> dict[str, Any]:
    """The task's result line. KeyboardInterrupt (a Ray cancel) stops the child and propagates."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    clock = [time.monotonic()]
    timings: dict[str, Any] = {"started_at": started_at}
    root = Path(tempfile.mkdtemp(prefix=f"termagent-batch-{_slug(task.id)}-", dir=options.work_dir))
    copy = root / "workspace"
    try:
        try:
            baseline = prepare(task.workspace, copy)
        except WorkspaceError as exc:
            _lap(timings, "prepare_s", clock)
            return _result(task, AgentRun(EXIT_USAGE, failure(ExitReason.USAGE_ERROR, str(exc))), None, timings)
        _lap(timings, "prepare_s", clock)
        run = run_agent(task, options, copy, on_start)
        _lap(timings, "agent_s", clock)
        diff = _diff(copy, baseline)
        _lap(timings, "diff_s", clock)
        return _result(task, run, {**diff, **({"copy": str(copy)} if options.keep_workspaces else {})}, timings)
    finally:
        if not options.keep_workspaces:
            shutil.rmtree(root, ignore_errors=True)


def command_for(task: Task, options: RunOptions, copy: Path) -> list[str]:
    """The child's argv: headless json in the copy; the task text goes in on stdin."""
    argv = [sys.executable, "-m", "termagent", "--task", "-", "--output", "json", "-C", str(copy)]
    for flag, value in (("--mode", task.mode or options.mode), ("--model", task.model or options.model),
                        ("--sandbox", options.sandbox), ("--max-turns", task.max_turns or options.max_turns),
                        ("--max-cost-usd", task.max_cost_usd or options.max_cost_usd),
                        ("--max-wall-s", options.max_wall_s)):
        if value is not None:
            argv += [flag, str(value)]
    for rule in options.allow:
        argv += ["--allow", rule]
    for rule in options.deny:
        argv += ["--deny", rule]
    if options.trust_project:
        argv.append("--trust-project")
    if options.sandbox_allow_root:
        argv.append("--sandbox-allow-root")
    return argv


def run_agent(task: Task, options: RunOptions, copy: Path,
              on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> AgentRun:
    """Run the child to its end, or to the harness timeout (then SIGINT, then SIGKILL)."""
    proc = subprocess.Popen(command_for(task, options, copy), cwd=copy, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            errors="replace", start_new_session=True,
                            preexec_fn=_die_with_parent())  # noqa: PLW1509 - one prctl call, libc loaded before the fork
    if on_start is not None:
        on_start(proc)
    try:
        out, err = proc.communicate(task.task, timeout=options.timeout_s)
    except subprocess.TimeoutExpired:
        out, err = stop_child(proc, options.grace_s)
        payload = _parse(out, err, proc.returncode)
        detail = f"the batch's per-task timeout ({options.timeout_s:.0f}s) was reached; the task was stopped"
        return AgentRun(EXIT_LIMIT, dict(payload, exit_reason=str(ExitReason.MAX_WALL), detail=detail))
    except BaseException:
        stop_child(proc, options.grace_s)
        raise
    payload = _parse(out, err, proc.returncode)
    return AgentRun(code_for_reason(payload["exit_reason"]), payload)


def stop_child(proc: subprocess.Popen[str], grace_s: float) -> tuple[str, str]:
    """SIGINT (termagent closes its session and sandbox), then SIGKILL of its whole group."""
    try:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=grace_s)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        kill_group(proc)
        try:
            return proc.communicate(timeout=grace_s)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            return "", ""


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def failure(reason: str, detail: str) -> dict[str, Any]:
    """The headless json shape for a task whose agent never produced one."""
    return {"result": "", "session_id": None, "exit_reason": str(reason), "detail": detail, "turns": 0,
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                      "cache_creation_input_tokens": 0},
            "cost_usd": 0.0, "tool_calls": [], "subagents": [], "denials": []}


def _parse(out: str, err: str, returncode: int | None) -> dict[str, Any]:
    """The child's json object (its last stdout line), or a failure naming its exit and stderr."""
    for line in reversed(out.strip().splitlines()):
        try:
            payload = json.loads(line)
        except ValueError:
            continue
        if isinstance(payload, dict) and "exit_reason" in payload:
            return payload
        break
    tail = err.strip()[-STDERR_TAIL:]
    reason = ExitReason.INTERRUPTED if returncode in (130, -signal.SIGINT) else ExitReason.INTERNAL_ERROR
    payload = failure(reason, f"termagent exited with {returncode} and no result" + (f"; stderr: {tail}" if tail else ""))
    if returncode is not None and returncode < 0:
        payload["exit_signal"] = -returncode  # killed: by the batch's interrupt, or by e.g. the OOM killer
    return payload


def _diff(copy: Path, baseline: str) -> dict[str, Any]:
    try:
        diff = final_diff(copy, baseline)
    except (GitError, OSError, WorkspaceError) as exc:
        return {"diff": None, "diff_error": str(exc)}
    return {"diff": diff.text, "diff_stat": {"files": diff.files, "insertions": diff.insertions,
                                             "deletions": diff.deletions}}


def _result(task: Task, run: AgentRun, diff: dict[str, Any] | None, timings: dict[str, Any]) -> dict[str, Any]:
    timings["total_s"] = round(sum(v for k, v in timings.items() if k.endswith("_s")), 3)
    line: dict[str, Any] = {"id": task.id, **run.payload, "exit_code": run.code,
                            **(diff or {"diff": None}), "workspace": task.workspace.describe(),
                            "host": socket.gethostname(), "timings": timings}
    return scrub(line)


def scrub(line: dict[str, Any]) -> dict[str, Any]:
    """Replace any credential value of this process's environment, wherever it appears."""
    text = json.dumps(line, ensure_ascii=False)
    secrets = [os.environ[name] for name in SECRET_VARS if len(os.environ.get(name, "")) >= 8]
    if not any(secret in text for secret in secrets):
        return line
    for secret in secrets:
        text = text.replace(json.dumps(secret)[1:-1], "[redacted]")
    scrubbed: dict[str, Any] = json.loads(text)
    return scrubbed


def _lap(timings: dict[str, Any], name: str, clock: list[float]) -> None:
    now = time.monotonic()
    timings[name] = round(now - clock[0], 3)
    clock[0] = now


def _slug(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", task_id)[:40]


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGKILL the child when the thread that forked it dies."""
    libc = _libc()
    if libc is None:
        return None

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return hook
