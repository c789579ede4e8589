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
from termagent.protocol import (
    Interrupt,
    Operation,
    ResolveApproval,
    SessionFinished,
    SessionStarted,
    Shutdown,
    SubmitTurn,
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
    mcp: Any = None  # mcp.attach.McpHandle when MCP servers are configured
    closers: list[Any] = field(default_factory=list)
    startup_warnings: list[str] = field(default_factory=list)
    outcomes: list[TurnOutcome] = field(default_factory=list)
    _ops: "asyncio.Queue[Operation]" = field(default_factory=asyncio.Queue)
    _turn: "asyncio.Task[TurnOutcome] | None" = None
    _pending_turns: list[str] = field(default_factory=list)
    _closed: bool = False

    def start(self) -> None:
        """Announce the session and start the sandbox in the background."""
        begin = getattr(self.sandbox, "begin", None)
        if begin is not None:
            begin()
        if self.watcher is not None:
            self.watcher.start()
        sandbox = self.sandbox.describe().get("backend", self.sandbox.name) if self.sandbox else "none"
        self.bus.emit(SessionStarted(self.session_id, self.config.model_for("main"), str(self.workspace),
                                     self.resumed, str(sandbox)))
        for message in self.startup_warnings:
            self.bus.emit(Warning(message))

    @property
    def busy(self) -> bool:
        return self._turn is not None and not self._turn.done()

    async def run_turn(self, text: str) -> TurnOutcome:
        outcome = await self.loop.run_turn(text)
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
                self._pending_turns.append(op.text)
                self._start_next_turn()
            elif isinstance(op, Interrupt):
                self._pending_turns.clear()
                await self.interrupt()
            elif isinstance(op, ResolveApproval) and isinstance(self.approver, EventApprover):
                self.approver.resolve(op)
            elif isinstance(op, Shutdown):
                await self.interrupt()
                await self.close()
                return

    def _start_next_turn(self) -> None:
        if self.busy or not self._pending_turns:
            return
        text = self._pending_turns.pop(0)
        self._turn = asyncio.get_running_loop().create_task(self._guarded_turn(text))

    async def _guarded_turn(self, text: str) -> TurnOutcome:
        try:
            return await self.run_turn(text)
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
