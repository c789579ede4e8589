"""Run a subagent: a fresh loop with its own prompt, tools and budget; return a summary.

The child shares the parent's model client, store, policy and approver (a person
still decides what it may do) but nothing of the parent's context. Its verbose tool
outputs become artifacts the parent can slice with read_artifact; only the bounded
summary, the artifact ids, any denials and the usage go back as the tool result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from termagent.config import Config
from termagent.core.agents import AgentDefinition
from termagent.core.approvals import Approver
from termagent.core.budget import Budget, Limits
from termagent.core.describe import clip
from termagent.core.history import History
from termagent.core.request_hooks import RequestHook
from termagent.core.loop import (
    STOP_API,
    STOP_END,
    STOP_ERROR,
    STOP_INTERRUPTED,
    STOP_SANDBOX,
    AgentLoop,
    TurnOutcome,
)
from termagent.core.prompts import load_prompt
from termagent.core.tool_runner import PolicyLike, ToolRunner
from termagent.model.client import ModelClient
from termagent.model.request import StablePrefix
from termagent.protocol import Event, StopReason, SubagentEvent, SubagentFinished, SubagentStarted, SubagentStatus
from termagent.store.db import Store
from termagent.tools.base import ToolContext
from termagent.tools.registry import ToolRegistry

FULL_OUTPUT_ID = re.compile(r"stored as (art_[0-9a-f]+): read slices")
SUMMARY_CAP_CHARS = 3000
ARTIFACT_THRESHOLD_CHARS = 2000


@dataclass(frozen=True)
class SubagentReport:
    agent_id: str
    agent: str
    status: str  # ok, failed, limit, interrupted
    summary: str
    artifacts: tuple[tuple[str, str], ...]  # (id, what it holds)
    denials: tuple[str, ...]
    usage: dict[str, int]
    cost_usd: float

    def as_tool_output(self) -> str:
        lines = [f"subagent {self.agent} ({self.agent_id}) finished: status {self.status}", self.summary]
        if self.artifacts:
            lines.append("artifacts (full outputs; read slices with read_artifact):")
            lines += [f"- {artifact_id}: {what}" for artifact_id, what in self.artifacts]
        if self.denials:
            lines.append("denied inside the subagent:")
            lines += [f"- {denial}" for denial in self.denials]
        lines.append(f"usage: {self.usage.get('input_tokens', 0)} in / {self.usage.get('output_tokens', 0)} out "
                     f"tokens, ${self.cost_usd:.4f}")
        return "\n".join(lines)


SUBAGENT_STATUS: dict[str, SubagentStatus] = {
    STOP_END: SubagentStatus.OK, STOP_API: SubagentStatus.FAILED, STOP_SANDBOX: SubagentStatus.FAILED,
    STOP_ERROR: SubagentStatus.FAILED, STOP_INTERRUPTED: SubagentStatus.INTERRUPTED,
}


@dataclass
class SubagentHost:
    """What the delegate tool needs from the parent session."""

    config: Config
    workspace: Path
    model: ModelClient
    store: Store
    parent_registry: ToolRegistry
    policy: PolicyLike
    approver: Approver
    parent_ctx: ToolContext
    parent_budget: Budget
    emit: Callable[[Event], None]
    memory: str
    definitions: dict[str, AgentDefinition]
    parent_denials: list[Any] = dataclasses.field(default_factory=list)
    child_hooks: list[RequestHook] = dataclasses.field(default_factory=list)
    lifecycle: Any = None  # lifecycle.dispatch.Lifecycle: the session's tool and SubagentStop hooks
    _counter: Any = dataclasses.field(default_factory=lambda: itertools.count(1))

    def switch_model(self, model: ModelClient, config: Config) -> None:
        """`/model` changed the session's client: children started from now on share the new one."""
        self.model, self.config = model, config

    async def run(self, definition: AgentDefinition, task: str, call_id: str = "") -> SubagentReport:
        child_id = self.store.create_session(str(self.workspace), self.model.model_for(definition.role),
                                             agent=definition.name, parent_id=self.parent_ctx.session_id)
        agent_id = f"{definition.name}-{next(self._counter)}"
        self.emit(SubagentStarted(agent_id, definition.name, task, call_id))
        loop = self._child_loop(definition, child_id, agent_id)
        outcome = TurnOutcome(STOP_INTERRUPTED, "", "interrupted by the user")
        try:
            outcome = await self._run_bounded(loop, definition, task)
        finally:  # an interrupt still closes the child's record and its panel in the front ends
            report = self._report(definition, agent_id, child_id, loop, outcome)
            self.store.update_session(child_id, status=report.status)
            self.emit(SubagentFinished(agent_id, definition.name, report.status, report.summary, report.usage,
                                       report.cost_usd))
        return report

    def _child_loop(self, definition: AgentDefinition, child_id: str, agent_id: str) -> AgentLoop:
        emit = lambda event: self.emit(SubagentEvent(agent_id, event))  # noqa: E731
        names = self.parent_registry.names()  # `mcp__git__*` in `tools:` means every such tool
        wanted = [n for p in definition.tools for n in ([p] if "*" not in p else fnmatch.filter(names, p))]
        tools = [self.parent_registry.get(name) for name in dict.fromkeys(wanted) if name != "delegate"]
        registry = ToolRegistry([tool for tool in tools if tool is not None])
        ctx = dataclasses.replace(self.parent_ctx, session_id=child_id)
        runner = ToolRunner(registry, self.policy, self.approver.for_agent(agent_id), ctx, emit, self.store,
                            hooks=self.lifecycle)
        prompt = definition.prompt + "\n\n" + load_prompt("subagent_contract")
        prefix = StablePrefix((prompt, self.memory), tuple(registry.api_tools()))
        budget = Budget(self._limits(definition), parent=self.parent_budget)
        return AgentLoop(self.model, definition.role, prefix, History(child_id, self.store), runner, budget, emit,
                         self.store, int(self.config.get("model", "context_window")),
                         before_request=list(self.child_hooks),
                         on_stop=self.lifecycle.subagent_stop if self.lifecycle is not None else None)

    def _limits(self, definition: AgentDefinition) -> Limits:
        defaults = self.config.section("subagents")
        return Limits(
            max_turns=int(definition.max_turns or defaults["max_turns"]),
            max_cost_usd=float(definition.max_cost_usd or defaults["max_cost_usd"]),
            max_tokens=int(definition.max_tokens or defaults["max_tokens"]),
            max_wall_s=0.0,  # wall time is enforced around the whole run, below
        )

    async def _run_bounded(self, loop: AgentLoop, definition: AgentDefinition, task: str) -> TurnOutcome:
        wall = float(definition.max_wall_s or self.config.get("subagents", "max_wall_s"))
        try:
            return await asyncio.wait_for(loop.run_turn(task), timeout=wall)
        except asyncio.TimeoutError:
            return TurnOutcome(StopReason.MAX_WALL, "", f"wall time cap reached ({wall:.0f} s)")

    def _report(self, definition: AgentDefinition, agent_id: str, child_id: str, loop: AgentLoop,
                outcome: TurnOutcome) -> SubagentReport:
        status = SUBAGENT_STATUS.get(outcome.stop_reason, SubagentStatus.LIMIT)
        summary = _bounded(outcome.text.strip())
        if status != SubagentStatus.OK:
            summary = f"status: {status}\nreason: {outcome.detail or outcome.stop_reason}\n" + (
                f"last words before stopping:\n{summary}" if summary else "")
        artifacts = self._store_artifacts(child_id, loop.history)
        self.parent_denials.extend(loop.runner.denials)  # a denial anywhere makes the run incomplete
        denials = tuple(f"{d.tool} {d.gist}: {d.reason}" for d in loop.runner.denials)
        return SubagentReport(agent_id, definition.name, status, summary, artifacts, denials,
                              loop.budget.usage.to_dict(), round(loop.budget.cost_usd, 6))

    def _store_artifacts(self, child_id: str, history: History) -> tuple[tuple[str, str], ...]:
        names = {b["id"]: (b["name"], b.get("input") or {}) for m in history.messages if m["role"] == "assistant"
                 for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
        stored = []
        for message in history.messages:
            for block in message["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    content = block.get("content")
                    text = content if isinstance(content, str) else ""
                    if len(text) >= ARTIFACT_THRESHOLD_CHARS:
                        name, args = names.get(block["tool_use_id"], ("tool", {}))
                        stored.append(self._artifact_for(child_id, name, args, text))
        return tuple(stored)

    def _artifact_for(self, child_id: str, name: str, args: dict[str, Any], text: str) -> tuple[str, str]:
        """Point at the full output a tool already stored, else store what the subagent saw."""
        shown = clip(self.parent_registry.describe(name, args, self.workspace).gist, 60)
        named = FULL_OUTPUT_ID.search(text)
        if named:
            artifact_id = named.group(1)
            lines = (self.store.get_artifact(artifact_id) or "").count("\n") + 1
            return artifact_id, f"{name} {shown}: full output ({lines} lines)"
        artifact_id = self.store.put_artifact(child_id, name, text)
        return artifact_id, f"{name} {shown} ({len(text.splitlines())} lines)"


def _bounded(text: str) -> str:
    if len(text) <= SUMMARY_CAP_CHARS:
        return text
    return text[:SUMMARY_CAP_CHARS] + f"\n[summary cut at {SUMMARY_CAP_CHARS} characters]"
