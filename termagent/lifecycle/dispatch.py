"""The session's side of lifecycle hooks: when each event fires and what its answer changes.

Safety stance: a hook can make a session stricter, never looser. A PreToolUse `deny` (or
exit 2) refuses the call and `ask` makes the policy ask (denied where nobody can answer),
but `allow` approves nothing: the policy's own decision stands, so a hook can never wave
through a destructive command or a call the mode would ask about. `updatedInput` replaces
the input, which is then schema-checked and judged by the policy like any model call.
A Stop or SubagentStop block sends the model back to work with the hook's reason, at
most MAX_STOP_CONTINUATIONS times per turn. PreCompact and Notification only observe.
Every run, whatever it answered, is an audit row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path
from typing import Any, Callable

from termagent.core.describe import clip
from termagent.core.loop import STOP_END, AgentLoop, TurnOutcome
from termagent.core.request_hooks import PendingRequest
from termagent.core.state_document import HARNESS_NOTE_PREFIX
from termagent.core.tool_runner import AuditSink, Denial, HookVerdict
from termagent.lifecycle.events import MAX_STOP_CONTINUATIONS, HookEvent, HookSpec
from termagent.lifecycle.payloads import (
    input_from_hook,
    mode_for,
    tool_input_for,
    tool_name_for,
    tool_response_for,
)
from termagent.lifecycle.runner import HookResult, hook_environment, run_hook
from termagent.lifecycle.settings import LoadedHooks
from termagent.protocol import ApprovalRequested, Event, SubagentEvent, TurnFinished, Warning
from termagent.tools.base import ToolResult

Extra = Callable[[HookSpec], dict[str, Any]]


class Lifecycle:
    def __init__(self, hooks: LoadedHooks, workspace: Path, session_id: str, audit: AuditSink | None,
                 emit: Callable[[Event], None], denials: list[Denial], mode: Callable[[], str]) -> None:
        self.hooks = hooks
        self.workspace = workspace
        self.session_id = session_id
        self.audit = audit
        self.emit = emit
        self.denials = denials
        self.mode = mode
        self._pending_notes: list[str] = []
        self._start: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._continued: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------ running and recording

    async def _fire(self, event: HookEvent, subject: str, extra: Extra, session_id: str = "",
                    call_id: str = "") -> list[HookResult]:
        specs = [spec for spec in self.hooks.for_event(event) if spec.applies_to(subject)]
        if not specs:
            return []
        session_id = session_id or self.session_id
        env = hook_environment(self.workspace, session_id, event)
        results = await asyncio.gather(*(run_hook(spec, self._payload(spec, session_id, extra), self.workspace, env)
                                         for spec in specs))
        for result in results:
            self._record(result, session_id, subject, call_id)
        return list(results)

    def _payload(self, spec: HookSpec, session_id: str, extra: Extra) -> dict[str, Any]:
        return {"session_id": session_id, "cwd": str(self.workspace), "hook_event_name": spec.event.value,
                "permission_mode": mode_for(spec, self.mode()), **extra(spec)}

    def _record(self, result: HookResult, session_id: str, subject: str, call_id: str) -> None:
        spec = result.spec
        if result.warning:
            self.emit(Warning(f"{spec.event.value} hook `{clip(spec.command, 80)}` ({spec.source}) {result.warning}; "
                              "going on as if it had not run"))
        if result.system_message:
            self.emit(Warning(f"{spec.event.value} hook says: {result.system_message}"))
        if self.audit is None:
            return
        code = "killed" if result.exit_code is None else f"exit {result.exit_code}"
        details: dict[str, Any] = {"command": spec.command, "source": spec.source, "subject": subject, "call_id": call_id,
                   "exit_code": result.exit_code, "duration_s": round(result.duration_s, 3)}
        if result.updated_input is not None:
            details["updated_input"] = result.updated_input
        self.audit.record_audit(session_id, "hook_" + uuid.uuid4().hex[:12], f"hook {spec.event.value}", details,
                                result.decision or ("error" if result.warning else "none"), "hook",
                                result.reason or result.warning, f"{code} in {result.duration_s:.2f} s")

    # ------------------------------------------------------------ session start and prompts

    def begin(self, resumed: bool) -> None:
        """SessionStart runs as the session starts; its context joins the first turn."""
        if self._start is None:
            self._start = asyncio.get_running_loop().create_task(self._session_start("resume" if resumed else "startup"))

    async def _session_start(self, source: str) -> None:
        results = await self._fire(HookEvent.SESSION_START, source, lambda _: {"source": source})
        self._pending_notes += [f"SessionStart hook context:\n{r.context}" for r in results if r.context]

    async def before_turn(self, prompt: str) -> TurnOutcome | None:
        """UserPromptSubmit; a TurnOutcome when a hook blocked the prompt (it is then never sent)."""
        self.begin(False)
        assert self._start is not None
        await self._start
        results = await self._fire(HookEvent.USER_PROMPT_SUBMIT, "", lambda _: {"prompt": prompt})
        blocked = [r for r in results if r.blocks]
        if blocked:
            reason = "; ".join(r.reason for r in blocked)
            self.denials.append(Denial("prompt", clip(prompt, 200), reason, "hook"))
            detail = f"the prompt was not sent: a UserPromptSubmit hook blocked it: {reason}"
            self.emit(Warning(detail))
            self.emit(TurnFinished(STOP_END, "", detail))
            return TurnOutcome(STOP_END, "", detail)
        self._pending_notes += [f"UserPromptSubmit hook context:\n{r.context}" for r in results if r.context]
        return None

    async def before_request(self, loop: PendingRequest) -> None:
        """Before each model request: hook context goes in as a harness note after the user's words."""
        if self._pending_notes:
            text = f"{HARNESS_NOTE_PREFIX} " + "\n\n".join(self._pending_notes)
            self._pending_notes = []
            loop.history.append({"role": "user", "content": [{"type": "text", "text": text}]})

    # ------------------------------------------------------------ tool calls

    async def before_tool(self, session_id: str, call_id: str, name: str, args: dict[str, Any]) -> HookVerdict:
        def extra(spec: HookSpec) -> dict[str, Any]:
            return {"tool_name": tool_name_for(spec, name), "tool_input": tool_input_for(spec, name, args, self.workspace),
                    "tool_use_id": call_id}

        results = await self._fire(HookEvent.PRE_TOOL_USE, name, extra, session_id, call_id)
        blocked = [r for r in results if r.blocks]
        if blocked:
            return HookVerdict("deny", "; ".join(r.reason or "no reason given" for r in blocked))
        rewrites = [r for r in results if r.updated_input is not None]
        updated = input_from_hook(rewrites[-1].spec, name, rewrites[-1].updated_input or {}, self.workspace) \
            if rewrites else None
        asks = [r for r in results if r.decision == "ask"]
        reason = "; ".join(r.reason for r in asks if r.reason) or "a PreToolUse hook asks for approval"
        return HookVerdict("ask" if asks else "", reason if asks else "", updated)

    async def after_tool(self, session_id: str, call_id: str, name: str, args: dict[str, Any],
                         result: ToolResult) -> ToolResult:
        def extra(spec: HookSpec) -> dict[str, Any]:
            return {"tool_name": tool_name_for(spec, name), "tool_input": tool_input_for(spec, name, args, self.workspace),
                    "tool_use_id": call_id, "tool_response": tool_response_for(
                        spec, name, args, result.output, result.ok, result.error_type, self.workspace)}

        results = await self._fire(HookEvent.POST_TOOL_USE, name, extra, session_id, call_id)
        notes = [f"PostToolUse hook feedback: {r.reason}" for r in results if r.blocks and r.reason]
        notes += [f"PostToolUse hook context: {r.context}" for r in results if r.context]
        if not notes:
            return result
        return dataclasses.replace(result, output=result.output + f"\n\n{HARNESS_NOTE_PREFIX} " + "\n".join(notes))

    # ------------------------------------------------------------ stopping, compaction, notifications

    async def stop(self, loop: AgentLoop, text: str) -> str:
        return await self._stop(HookEvent.STOP, loop)

    async def subagent_stop(self, loop: AgentLoop, text: str) -> str:
        return await self._stop(HookEvent.SUBAGENT_STOP, loop)

    async def _stop(self, event: HookEvent, loop: AgentLoop) -> str:
        """Text for the model to continue with, or "" to let the turn end."""
        key = (loop.session_id, loop.turn_number)
        count = self._continued.get(key, 0)
        results = await self._fire(event, "", lambda _: {"stop_hook_active": count > 0}, loop.session_id)
        reasons = [r.reason for r in results if r.blocks]
        if not reasons:
            return ""
        if count >= MAX_STOP_CONTINUATIONS:
            self.emit(Warning(f"a {event.value} hook still asks to continue after {count} continuations this turn; "
                              "the turn ends anyway"))
            return ""
        self._continued[key] = count + 1
        return f"{HARNESS_NOTE_PREFIX} A {event.value} hook did not let you finish yet: " + "; ".join(reasons)

    async def pre_compact(self, trigger: str, focus: str) -> None:
        await self._fire(HookEvent.PRE_COMPACT, trigger, lambda _: {"trigger": trigger, "custom_instructions": focus})

    def on_event(self, event: Event) -> None:
        """Bus listener: an approval dialog opening is a Notification (permission_prompt)."""
        inner = event.event if isinstance(event, SubagentEvent) else event
        if not isinstance(inner, ApprovalRequested) or not self.hooks.for_event(HookEvent.NOTIFICATION):
            return
        message = f"termagent needs your permission to use {inner.tool}"
        task = asyncio.get_running_loop().create_task(self._fire(
            HookEvent.NOTIFICATION, "permission_prompt",
            lambda _: {"message": message, "notification_type": "permission_prompt"}))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Closer: hooks still running (a slow notifier) finish, bounded by their own timeouts."""
        pending = [task for task in (self._start, *self._background) if task is not None and not task.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
