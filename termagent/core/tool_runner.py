"""Run one assistant turn's tool calls: policy, approval, execution, events, audit.

Read-only calls of a turn run concurrently (so do delegations, which only return
summaries); anything that writes or executes runs alone and in order. Every call,
whatever happens to it, yields exactly one tool_result, so the history stays valid
even when the person interrupts half-way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from termagent.core.approvals import Approver
from termagent.core.describe import clip
from termagent.core.history import tool_result_block
from termagent.model.reply import ToolCall
from termagent.terminal_text import strip_terminal_controls
from termagent.policy.secrets import redact, redacting
from termagent.protocol import (
    DECISION_ALLOW_ONCE,
    DECISION_ALLOW_SESSION,
    RISK_READ,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    ToolCallFinished,
    ToolCallOutputDelta,
    ToolCallStarted,
    ViewKind,
)
from termagent.tools.base import ToolContext, ToolError, ToolResult
from termagent.tools.registry import ToolRegistry, parse_input

INTERRUPTED = "interrupted by the user before it finished; nothing more ran"


class PolicyLike(Protocol):
    mode: str

    @property
    def modes(self) -> tuple[str, ...]: ...

    def decide(self, tool: str, args: dict[str, Any], risk: str) -> Any: ...

    def allow_for_session(self, tool: str, args: dict[str, Any]) -> None: ...


class AuditSink(Protocol):
    def record_audit(self, session_id: str, call_id: str, tool: str, tool_input: Any, decision: str,
                     decided_by: str, reason: str = "", outcome: str = "") -> None: ...

    def set_audit_outcome(self, session_id: str, call_id: str, outcome: str) -> None: ...


@dataclass(frozen=True)
class HookVerdict:
    """What PreToolUse hooks said: action "" (no objection), "deny" or "ask"; a rewritten input."""

    action: str = ""
    reason: str = ""
    updated_input: dict[str, Any] | None = None


class ToolHooks(Protocol):
    """Lifecycle hooks around a call (termagent.lifecycle.dispatch.Lifecycle)."""

    async def before_tool(self, session_id: str, call_id: str, name: str, args: dict[str, Any]) -> HookVerdict: ...

    async def after_tool(self, session_id: str, call_id: str, name: str, args: dict[str, Any],
                         result: ToolResult) -> ToolResult: ...


@dataclass(frozen=True)
class CallRecord:
    name: str
    ok: bool
    duration_s: float


@dataclass(frozen=True)
class Denial:
    tool: str
    gist: str
    reason: str
    decided_by: str


class ToolRunner:
    def __init__(
        self,
        registry: ToolRegistry,
        policy: PolicyLike,
        approver: Approver,
        ctx: ToolContext,
        emit: Callable[[Event], None],
        audit: AuditSink | None,
        denials: list[Denial] | None = None,
        hooks: ToolHooks | None = None,
    ) -> None:
        self.hooks = hooks
        self.registry = registry
        self.policy = policy
        self.approver = approver
        self.ctx = ctx
        self.emit = emit
        self.audit = audit
        self.records: list[CallRecord] = []
        self.denials: list[Denial] = [] if denials is None else denials  # shared with subagents
        self._done: dict[str, dict[str, Any]] = {}
        self._decided: dict[str, tuple[str, str]] = {}  # call id -> (action, who decided)

    async def run(self, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
        """Tool results in call order. On cancellation, `results_so_far` has them all."""
        self._done = {}
        for group in self._groups(calls):
            if len(group) > 1:
                await asyncio.gather(*(self._run_one(call) for call in group))
            else:
                await self._run_one(group[0])
        return [self._done[call.id] for call in calls]

    def results_so_far(self, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
        """After an interrupt: finished calls keep their result, the rest say they were stopped."""
        return [self._done.get(call.id) or tool_result_block(call.id, INTERRUPTED, True) for call in calls]

    def _groups(self, calls: Sequence[ToolCall]) -> list[list[ToolCall]]:
        groups: list[list[ToolCall]] = []
        for call in calls:
            key = self._batch(call)
            if groups and key is not None and key == self._batch(groups[-1][0]):
                groups[-1].append(call)
            else:
                groups.append([call])
        return groups

    def _batch(self, call: ToolCall) -> str | None:
        """Neighbouring calls with the same key run together; None runs alone, in order."""
        if call.input is None:
            return None
        if call.name == "delegate":
            return "delegate"
        return "read" if self.registry.risk_of(call.name) == RISK_READ else None

    async def _run_one(self, call: ToolCall) -> None:
        risk = self.registry.risk_of(call.name)
        view = self.registry.describe(call.name, call.input, self.ctx.root)
        # an unknown tool's name is model text: front ends must never get it raw
        command = view.detail if view.kind == ViewKind.COMMAND else ""
        self.emit(ToolCallStarted(call.id, strip_terminal_controls(call.name), call.input or {}, risk,
                                  clip(view.gist, 200), view.kind, view.path, command))
        started = time.monotonic()
        try:
            result = await self._decide_and_run(call, risk)
        except asyncio.CancelledError:
            self._finish(call, _error("interrupted", INTERRUPTED), time.monotonic() - started)
            raise
        self._finish(call, result, time.monotonic() - started)

    def _finish(self, call: ToolCall, result: ToolResult, duration: float) -> None:
        """Events, record and audit outcome for one call: exactly once, whatever happened.

        Secrets in the output are redacted here, the one place every result passes on its
        way to the model, the transcript and the trace.
        """
        result = dataclasses.replace(result, output=redact(result.output)[0],
                                     display=None if result.display is None else redact(result.display)[0])
        self.records.append(CallRecord(call.name, result.ok, round(duration, 3)))
        action, by = self._decided.pop(call.id, ("", ""))
        self.emit(ToolCallFinished(call.id, strip_terminal_controls(call.name), result.ok, result.display or result.output,
                                   round(duration, 3), result.error_type, action, by))
        if self.audit is not None:
            outcome = "ok" if result.ok else f"error: {result.error_type}"
            if action:
                self.audit.set_audit_outcome(self.ctx.session_id, call.id, outcome)
            else:
                self.audit.record_audit(self.ctx.session_id, call.id, call.name, call.input, "none", "harness", "", outcome)
        self._done[call.id] = tool_result_block(call.id, result.output, not result.ok, result.images)

    async def _decide_and_run(self, call: ToolCall, risk: str) -> ToolResult:
        if call.input is None:
            return _error("invalid_input", f"tool call not executed: {call.problem}. Send the call again, complete.")
        if self.registry.get(call.name) is None:
            return await self.registry.call(call.name, call.input, self.ctx)
        verdict = HookVerdict()
        if self.hooks is not None:
            verdict = await self.hooks.before_tool(self.ctx.session_id, call.id, call.name, call.input)
            call, refusal = self._after_pre_hooks(call, verdict)
            if refusal is not None:
                return refusal
        refusal = await self._permission(call, risk, verdict)
        if refusal is not None:
            return refusal
        result = await self._execute(call, risk)
        if self.hooks is not None and call.input is not None:
            result = await self.hooks.after_tool(self.ctx.session_id, call.id, call.name, call.input, result)
        return result

    def _after_pre_hooks(self, call: ToolCall, verdict: HookVerdict) -> tuple[ToolCall, ToolResult | None]:
        """A hook's deny refuses the call; its updatedInput replaces the input, schema-checked."""
        if verdict.action == "deny":
            self._audit_decision(call, "deny", "hook", verdict.reason)
            self.denials.append(Denial(call.name, clip(self.registry.describe(call.name, call.input, self.ctx.root).gist),
                                       verdict.reason, "hook"))
            return call, _error("permission_denied", f"blocked by a PreToolUse hook: {verdict.reason}. The action did "
                                "not run. Do not retry it unchanged; choose another approach or explain to the user.")
        if verdict.updated_input is None:
            return call, None
        tool = self.registry.get(call.name)
        assert tool is not None
        try:
            return dataclasses.replace(call, input=parse_input(verdict.updated_input, tool.spec)), None
        except ToolError as exc:
            return call, _error("invalid_input", f"a PreToolUse hook rewrote this call into an invalid one "
                                f"({exc.message}); nothing ran")

    async def _execute(self, call: ToolCall, risk: str) -> ToolResult:
        ctx = dataclasses.replace(self.ctx, emit_output=lambda text: self.emit(ToolCallOutputDelta(call.id, text)),
                                  call_id=call.id, artifacts=redacting(self.ctx.artifacts))
        if risk == RISK_READ or ctx.activity is None:
            return await self.registry.call(call.name, call.input, ctx)
        async with ctx.activity():  # the file watcher attributes what changes now to the agent
            return await self.registry.call(call.name, call.input, ctx)

    def _policy_target(self, call: ToolCall, risk: str) -> tuple[str, dict[str, Any], str]:
        """What the policy judges: a proxy tool (mcp_call) names the real tool it would run."""
        assert call.input is not None
        resolve = getattr(self.registry.get(call.name), "policy_target", None)
        target = resolve(call.input) if resolve is not None else None
        return target if target is not None else (call.name, call.input, risk)

    async def _permission(self, call: ToolCall, risk: str, hook: HookVerdict) -> ToolResult | None:
        """None when the call may run; else the result it ends with instead."""
        name, args, risk = self._policy_target(call, risk)
        decision = self.policy.decide(name, args, risk)
        action, reason, by = decision.action, decision.reason, decision.decided_by
        if hook.action == "ask" and action == "allow":  # a hook may ask where the policy would not; never the reverse
            action, reason, by = "ask", hook.reason, "hook"
        view = self.registry.describe(call.name, call.input, self.ctx.root)
        if action == "ask":
            doomed = await self.registry.preflight(call.name, call.input, self.ctx)
            if doomed is not None:  # it would fail whatever the answer: asking would only waste the person's time
                return doomed
            request = ApprovalRequested(
                request_id=uuid.uuid4().hex[:12], call_id=call.id, tool=call.name,
                summary=clip(view.gist), detail=view.detail,
                reason=reason, destructive=bool(getattr(decision, "destructive", False)),
                view=view.kind, path=view.path,
            )
            action, reason, by = await self._ask_person(request, name, args, reason)
        self._audit_decision(call, action, by, reason)
        if action == "allow":
            return None
        self.denials.append(Denial(call.name, clip(view.gist), reason, by))
        return _error("permission_denied", f"permission denied ({by}): {reason}. The action did not run. Do not retry "
                      "it unchanged; choose another approach or explain to the user what you need.")

    async def _ask_person(self, request: ApprovalRequested, name: str, args: dict[str, Any],
                          reason: str) -> tuple[str, str, str]:
        """The person's answer as (action, reason, decided by); "always" widens the policy for the session."""
        answer = await self.approver.ask(request)
        action = "allow" if answer.decision in (DECISION_ALLOW_ONCE, DECISION_ALLOW_SESSION) else "deny"
        reason = answer.reason or ("denied by the person" if action == "deny" else reason)
        if answer.decision == DECISION_ALLOW_SESSION:
            self.policy.allow_for_session(name, args)
        self.emit(ApprovalResolved(request.request_id, answer.decision, "person", answer.reason))
        return action, reason, "person"

    def _audit_decision(self, call: ToolCall, action: str, by: str, reason: str) -> None:
        self._decided[call.id] = (action, by)
        if self.audit is not None:
            self.audit.record_audit(self.ctx.session_id, call.id, call.name, call.input, action, by, reason)


def _error(kind: str, message: str) -> ToolResult:
    return ToolResult(output=ToolError(kind, message).payload(), ok=False, error_type=kind)
