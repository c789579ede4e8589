"""A session: one conversation, its tools and sandbox, driven by operations.

Front ends either push operations (`submit`) and consume the bus, as the TUI does, or
call `run_turn` directly, as headless mode does. Either way the same loop runs and the
same events come out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termagent.config import Config
from termagent.core.approvals import EventApprover, NoPersonApprover
from termagent.core.bus import EventBus
from termagent.core.loop import STOP_END, STOP_INTERRUPTED, AgentLoop, TurnOutcome
from termagent.core.tool_runner import ToolRunner
from termagent.extensions.catalog import Extensions
from termagent.extensions.commands import CustomCommand
from termagent.extensions.scope import SkillScope
from termagent.extensions.skills import Skill
from termagent.protocol import (
    CallView,
    Compact,
    DenialView,
    ImageData,
    Interrupt,
    ModeChanged,
    ModelChanged,
    Operation,
    ResolveApproval,
    SessionFinished,
    SessionStarted,
    SessionStatus,
    SetMode,
    SetModel,
    Shutdown,
    SubmitTurn,
    ToolCallView,
    Totals,
    TurnFinished,
    Warning,
)
from termagent.sandbox.base import Sandbox
from termagent.store.db import Store


@dataclass
class Session:
    session_id: str
    config: Config
    workspace: Path
    store: Store
    bus: EventBus
    loop: AgentLoop
    runner: ToolRunner
    approver: EventApprover | NoPersonApprover
    sandbox: Sandbox | None
    resumed: bool = False
    checkpointer: Any = None
    compactor: Any = None  # core.compaction.Compactor
    watcher: Any = None  # core.watcher.WorkspaceWatcher
    delegation: Any = None  # core.subagents.SubagentHost
    mcp: Any = None  # mcp.attach.McpHandle when MCP servers are configured
    extensions: Extensions = field(default_factory=Extensions)  # skills and custom commands, fixed at start
    skill_scope: SkillScope | None = None  # the skills in use in the running turn (allowed-tools)
    lifecycle: Any = None  # lifecycle.dispatch.Lifecycle when lifecycle hooks are configured
    closers: list[Any] = field(default_factory=list)
    flushers: list[Any] = field(default_factory=list)  # run after SessionFinished: exporters see the end
    startup_warnings: list[str] = field(default_factory=list)
    memory_changes: list[Any] = field(default_factory=list)  # core.memory_watch.MemoryChange
    outcomes: list[TurnOutcome] = field(default_factory=list)
    _ops: "asyncio.Queue[Operation]" = field(default_factory=asyncio.Queue)
    _turn: "asyncio.Task[TurnOutcome] | None" = None
    _pending_turns: list[SubmitTurn] = field(default_factory=list)
    _pending_settings: list[SetModel] = field(default_factory=list)
    _closed: bool = False
    _sandbox_check: "asyncio.Task[None] | None" = None

    def start(self) -> None:
        """Announce the session and start the sandbox in the background."""
        if self.sandbox is not None:
            self.sandbox.begin()
            self._sandbox_check = asyncio.get_running_loop().create_task(self._warn_if_sandbox_down())
        if self.watcher is not None:
            self.watcher.start()
        if self.lifecycle is not None:
            self.lifecycle.begin(self.resumed)  # SessionStart hooks
        sandbox = self.sandbox.describe().get("backend", self.sandbox.name) if self.sandbox else "none"
        self.bus.emit(SessionStarted(self.session_id, self.config.model_for("main"), str(self.workspace),
                                     self.resumed, str(sandbox)))
        for message in self.startup_warnings:
            self.bus.emit(Warning(message))

    async def start_sandbox(self) -> None:
        """Start the sandbox now rather than at the first command; raises SandboxUnavailable."""
        if self.sandbox is not None:
            await self.sandbox.start()

    async def _warn_if_sandbox_down(self) -> None:
        """Say at once, not at the first command, that commands cannot run: the sandbox
        starts in the background, so this costs start-up nothing."""
        try:
            await self.start_sandbox()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # SandboxUnavailable; core stays free of sandbox imports
            self.bus.emit(Warning(f"commands cannot run in this session: {exc}"))

    @property
    def busy(self) -> bool:
        return self._turn is not None and not self._turn.done()

    # ------------------------------------------------------------ the read-only view

    def status(self) -> SessionStatus:
        """A snapshot for status bars, /cost and headless json; never a handle into the loop."""
        budget, runner = self.loop.budget, self.runner
        usage, limits = budget.usage, budget.limits
        return SessionStatus(
            session_id=self.session_id, workspace=str(self.workspace), model=self.config.model_for("main"),
            mode=str(runner.policy.mode), busy=self.busy, resumed=self.resumed, turns=budget.turns,
            usage=Totals(usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens,
                         usage.cache_creation_input_tokens),
            cost_usd=budget.cost_usd,
            limits=limits,
            context_tokens=self.loop.last_prompt_tokens, context_window=self.loop.context_window,
            sandbox=self._sandbox_name(), modes=runner.policy.modes,
            jobs=self.sandbox.job_views() if self.sandbox is not None else (),
            denials=tuple(DenialView(d.tool, d.gist, d.reason, d.decided_by) for d in runner.denials),
            tool_calls=tuple(ToolCallView(r.name, r.ok, r.duration_s) for r in runner.records),
            memory_changed=tuple(change.to_dict() for change in self.memory_changes),
            mcp_servers=tuple(self.mcp.status()) if self.mcp is not None else (),
        )

    def _sandbox_name(self) -> str:
        if self.sandbox is None:
            return "none"
        return str(self.sandbox.describe().get("backend", self.sandbox.name))

    def messages(self) -> list[dict[str, Any]]:
        """The live conversation as the model sees it (a copy), for front ends that show it."""
        return [dict(message) for message in self.loop.history.messages]

    @property
    def state_document(self) -> str:
        return self.loop.history.state_document

    def describe_restore(self) -> str:
        """What `--resume` brought back, for the front ends to print."""
        from termagent.core.restore import describe_restore

        return describe_restore(self.loop.history, self.store, self.session_id)

    def describe_call(self, name: str, args: dict[str, Any]) -> CallView:
        """How a stored call shows (a resumed transcript), as its tool describes it."""
        return self.runner.registry.describe(name, args, self.workspace)

    def mcp_prompts(self) -> dict[str, str]:
        """MCP servers' prompts as `/mcp__server__prompt` commands (name -> description)."""
        return self.mcp.prompt_commands() if self.mcp is not None else {}

    async def expand_mcp_prompt(self, command: str, argument_text: str) -> str:
        """The user message an MCP prompt command stands for; ValueError when there is none."""
        if self.mcp is None:
            raise ValueError("no MCP server is configured")
        text: str = await self.mcp.expand_prompt(command, argument_text)
        return text

    def skills(self) -> tuple[Skill, ...]:
        """Every skill found at start, in the order found (project first), for /skills."""
        return self.extensions.skills.skills

    def custom_commands(self) -> tuple[CustomCommand, ...]:
        return self.extensions.commands.commands

    def expand_command(self, name: str, arguments: str) -> str | None:
        """The user turn `/name arguments` stands for (a custom command or a skill), or None.
        A skill run this way is in use for the turn that sends the text."""
        text = self.extensions.expand(name, arguments)
        skill = self.extensions.skill_run_by(name)
        if text is not None and skill is not None and self.skill_scope is not None:
            self.skill_scope.expect(text, skill)
        return text

    def checkpoints_off_reason(self) -> str:
        """Why /undo cannot work here ('' when it can)."""
        checkpointer = self.checkpointer
        if checkpointer is None:
            return "checkpoints are off"
        return "" if checkpointer.enabled else (checkpointer.disabled_reason or "checkpoints are off")

    def agent_definitions(self) -> dict[str, Any]:
        """The subagents the model may delegate to, by name."""
        return dict(self.delegation.definitions) if self.delegation is not None else {}

    async def run_subagent(self, agent: str, task: str) -> Any:
        """Run one subagent outside a model turn (the pre-push hook's test run): a core entry point."""
        if self.delegation is None or agent not in self.delegation.definitions:
            raise LookupError(f"no subagent named {agent!r}")
        return await self.delegation.run(self.delegation.definitions[agent], task)

    # ------------------------------------------------------------ settings, as operations

    async def apply(self, op: SetModel | SetMode | Compact) -> None:
        """Change a setting; the answer is an event. A model change waits for a running turn."""
        if isinstance(op, SetMode):
            self._set_mode(op.mode)
        elif isinstance(op, SetModel):
            if self.busy:
                self._pending_settings.append(op)
            else:
                await self._set_model(op)
        elif isinstance(op, Compact):
            await self.compact(op.focus)

    def _set_mode(self, mode: str) -> None:
        from termagent.config import MODES

        if mode not in MODES:
            self.bus.emit(Warning(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}"))
            return
        self.runner.policy.mode = mode
        self.bus.emit(ModeChanged(mode))

    async def _set_model(self, op: SetModel) -> None:
        """A new client for the new model; subagents keep their own role's model setting."""
        from termagent.model.client import ModelClient

        self.config = self.config.with_overrides({"model": {op.role: op.model}})
        old, client = self.loop.model, ModelClient(self.config)
        self.loop.model = client
        if self.delegation is not None:
            self.delegation.switch_model(client, self.config)
        await old.aclose()
        self.bus.emit(ModelChanged(op.model, op.role))

    async def _apply_pending_settings(self) -> None:
        while self._pending_settings and not self.busy:
            await self._set_model(self._pending_settings.pop(0))

    async def run_turn(self, text: str, images: tuple[ImageData, ...] = ()) -> TurnOutcome:
        refused: TurnOutcome | None = None
        if self.lifecycle is not None:
            refused = await self.lifecycle.before_turn(text)  # UserPromptSubmit hooks may refuse the prompt
        if refused is not None:
            self.outcomes.append(refused)
            return refused
        outcome = await self.loop.run_turn(text, images)
        self.outcomes.append(outcome)
        if outcome.stop_reason == STOP_END and self.config.get("checkpoints", "auto_commit"):
            await self._auto_commit(outcome.text)
        return outcome

    async def _auto_commit(self, summary: str) -> None:
        """Opt-in: each completed turn becomes a commit with a message drawn from its summary."""
        from termagent.git import auto_commit_turn

        try:
            sha = await asyncio.to_thread(auto_commit_turn, self.workspace, summary)
        except Exception as exc:  # no identity, a locked index: the turn's work stays, uncommitted
            self.bus.emit(Warning(f"auto-commit failed: {exc}"))
            return
        if sha:
            self.bus.emit(Warning(f"auto-committed this turn as {sha[:10]}"))

    async def compact(self, focus: str = "") -> None:
        """/compact: fold older turns into the state document now, steered toward `focus`.

        During a turn it happens before the turn's next model request instead, so the
        history is never rewritten under a running step.
        """
        if self.compactor is None:
            self.bus.emit(Warning("compaction is not available in this session"))
        elif self.busy:
            self.compactor.request(focus)
        else:
            await self.compactor.compact_now(self.loop, focus)

    # ------------------------------------------------------------ operation-driven use

    def submit(self, op: Operation) -> None:
        self._ops.put_nowait(op)

    async def serve(self) -> None:
        """Process operations until Shutdown: the interactive front ends' main task."""
        while True:
            op = await self._ops.get()
            if isinstance(op, SubmitTurn):
                self._pending_turns.append(op)
                self._start_next_turn()
            elif isinstance(op, Interrupt):
                self._pending_turns.clear()
                await self.interrupt()
            elif isinstance(op, ResolveApproval) and isinstance(self.approver, EventApprover):
                self.approver.resolve(op)
            elif isinstance(op, (SetModel, SetMode, Compact)):
                await self.apply(op)
            elif isinstance(op, Shutdown):
                await self.interrupt()
                await self.close()
                return

    def _start_next_turn(self) -> None:
        if self.busy:
            return
        if self._pending_settings:
            asyncio.get_running_loop().create_task(self._settle_then_continue())
            return
        if not self._pending_turns:
            return
        turn = self._pending_turns.pop(0)
        self._turn = asyncio.get_running_loop().create_task(self._guarded_turn(turn))

    async def _settle_then_continue(self) -> None:
        await self._apply_pending_settings()
        self._start_next_turn()

    async def _guarded_turn(self, turn: SubmitTurn) -> TurnOutcome:
        try:
            return await self.run_turn(turn.text, turn.images)
        except asyncio.CancelledError:
            outcome = TurnOutcome(STOP_INTERRUPTED, "")
            self.outcomes.append(outcome)
            return outcome
        finally:
            asyncio.get_running_loop().call_soon(self._start_next_turn)

    async def interrupt(self) -> None:
        """Cancel the running turn; the loop leaves a valid history behind."""
        task = self._turn
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            self.bus.emit(TurnFinished(STOP_INTERRUPTED, ""))

    async def close(self, exit_reason: str = "closed") -> None:
        if self._closed:
            return
        self._closed = True
        for closer in self.closers:
            try:
                await closer()
            except Exception:  # closing must finish even when one part is already broken
                pass
        if self.sandbox is not None:
            await self.sandbox.close()
        await self.loop.model.aclose()
        self.bus.emit(SessionFinished(self.session_id, exit_reason))
        for flush in self.flushers:
            try:
                await flush()
            except Exception:  # an exporter's trouble never changes how the session ended
                pass
