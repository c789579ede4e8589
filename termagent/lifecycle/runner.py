"""Run one hook: a host subprocess with the event on stdin, bounded in time, read by its answer.

Hooks are the person's programs, so they run on the host (never in the sandbox), in the
workspace, through bash like Claude Code's, in their own process group so a timeout kills
everything they started. The environment is minimal and allowlisted: the model's API key
and whatever else the person exported do not leak into a script copied from the web.

The answer: exit 0 goes on (stdout may be JSON with `decision`, `reason`, `updatedInput`,
`additionalContext`, or Claude Code's `hookSpecificOutput` spelling of them); exit 2
blocks with stderr as the reason; any other exit, a timeout or unparsable JSON is a
warning and the action goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from termagent.lifecycle.events import HookEvent, HookSpec
from termagent.tracecontext import with_traceparent

PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "TERM")
TEXT_CAP = 20_000
PLAIN_STDOUT_IS_CONTEXT = frozenset({HookEvent.SESSION_START, HookEvent.USER_PROMPT_SUBMIT})
DECISIONS = {"allow": "allow", "approve": "allow", "deny": "deny", "block": "block", "ask": "ask"}


@dataclass(frozen=True)
class HookResult:
    """What one run said. `decision` is "" (no opinion), allow, deny, ask or block."""

    spec: HookSpec
    exit_code: int | None
    duration_s: float
    decision: str = ""
    reason: str = ""
    updated_input: dict[str, Any] | None = None
    context: str = ""
    system_message: str = ""
    warning: str = ""  # set when the run failed in a way that does not block (the action goes on)

    @property
    def blocks(self) -> bool:
        return self.decision in ("deny", "block")


def hook_environment(workspace: Path, session_id: str, event: HookEvent) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update({"CLAUDE_PROJECT_DIR": str(workspace), "TERMAGENT_PROJECT_DIR": str(workspace),
                "TERMAGENT_SESSION_ID": session_id, "TERMAGENT_HOOK_EVENT": event.value})
    return with_traceparent(env)


_PLAIN_WORDS = re.compile(r"[A-Za-z0-9_./:,+@%-]+(?: [A-Za-z0-9_./:,+@%=-]+)*")


def argv_for(command: str, path: str) -> list[str]:
    """bash -c COMMAND; a command of plain words naming a program is run directly, which is the
    same thing without bash's start-up (most of a no-op hook's cost)."""
    if _PLAIN_WORDS.fullmatch(command):
        words = command.split(" ")
        program = shutil.which(words[0], path=path)
        if program:
            return [program, *words[1:]]
    bash = shutil.which("bash", path=path) or shutil.which("bash")
    return [bash, "-c", command] if bash else ["/bin/sh", "-c", command]


async def run_hook(spec: HookSpec, payload: dict[str, Any], workspace: Path, env: dict[str, str]) -> HookResult:
    """Never raises (except cancellation, which kills the hook's process group first)."""
    started = time.monotonic()
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv_for(spec.command, env.get("PATH", os.defpath)), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(workspace), env=env, start_new_session=True)
    except OSError as exc:
        return HookResult(spec, None, time.monotonic() - started, warning=f"could not start: {exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout=spec.timeout_s)
    except asyncio.TimeoutError:
        await _kill_group(proc)
        return HookResult(spec, None, time.monotonic() - started,
                          warning=f"timed out after {spec.timeout_s:g} s and was killed")
    except BaseException:
        await _kill_group(proc)
        raise
    duration = time.monotonic() - started
    assert proc.returncode is not None
    return interpret(spec, proc.returncode, _text(out), _text(err), duration)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        await asyncio.wait_for(proc.wait(), timeout=5)
    except asyncio.TimeoutError:
        pass


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= TEXT_CAP else text[:TEXT_CAP] + "\n[hook output cut]"


def interpret(spec: HookSpec, code: int, out: str, err: str, duration: float) -> HookResult:
    if code == 2:
        reason = err.strip() or f"blocked by the hook `{spec.command}` (exit 2)"
        return HookResult(spec, code, duration, decision="block", reason=reason)
    if code != 0:
        detail = err.strip().splitlines()[-1] if err.strip() else "no message"
        return HookResult(spec, code, duration, warning=f"exited with {code}: {detail}")
    stripped = out.strip()
    if not stripped.startswith("{"):
        context = stripped if spec.event in PLAIN_STDOUT_IS_CONTEXT else ""
        return HookResult(spec, code, duration, context=context)
    try:
        answer = json.loads(stripped)
    except ValueError as exc:
        return HookResult(spec, code, duration, warning=f"printed JSON that does not parse ({exc}); ignored")
    if not isinstance(answer, dict):
        return HookResult(spec, code, duration, warning="printed JSON that is not an object; ignored")
    return _from_json(spec, code, duration, answer)


def _from_json(spec: HookSpec, code: int, duration: float, answer: dict[str, Any]) -> HookResult:
    specific = answer.get("hookSpecificOutput")
    specific = specific if isinstance(specific, dict) else {}
    raw = specific.get("permissionDecision", answer.get("decision", ""))
    decision = DECISIONS.get(str(raw).lower(), "") if raw else ""
    warning = f"unknown decision {raw!r}; ignored" if raw and not decision else ""
    if answer.get("continue") is False and spec.event in (HookEvent.PRE_TOOL_USE, HookEvent.USER_PROMPT_SUBMIT):
        decision = "block"  # Claude Code's "stop everything": here the stricter reading, a block
    reason = _first_text(specific.get("permissionDecisionReason"), answer.get("reason"), answer.get("stopReason"))
    updated = specific.get("updatedInput", answer.get("updatedInput"))
    if updated is not None and not isinstance(updated, dict):
        warning, updated = "updatedInput must be an object; ignored", None
    context = _first_text(specific.get("additionalContext"), answer.get("additionalContext"))
    return HookResult(spec, code, duration, decision, reason, updated, context,
                      _first_text(answer.get("systemMessage")), warning)


def _first_text(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
