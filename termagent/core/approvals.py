"""Asking a person: the core emits ApprovalRequested and waits for ResolveApproval.

Keeping the question and the answer as protocol messages (rather than a callback into
the UI) keeps the core serialisable and lets any front end, or a test, answer.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

from termagent.protocol import (
    DECISION_DENY,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    ResolveApproval,
    SubagentEvent,
)


class Approver(Protocol):
    async def ask(self, request: ApprovalRequested) -> ResolveApproval: ...

    def for_agent(self, agent_id: str) -> "Approver":
        """The same approver for a subagent: its questions go out wrapped, so a dialog can say who asks."""
        ...


class EventApprover:
    """Interactive front ends: the question goes out as an event, the answer comes back as an op."""

    def __init__(self, emit: Callable[[Event], None],
                 pending: "dict[str, asyncio.Future[ResolveApproval]] | None" = None) -> None:
        self._emit = emit
        self._pending: dict[str, asyncio.Future[ResolveApproval]] = {} if pending is None else pending

    def for_agent(self, agent_id: str) -> "EventApprover":
        """Shares the pending answers, so the session's ResolveApproval reaches a child's question."""
        parent_emit = self._emit
        return EventApprover(lambda event: parent_emit(SubagentEvent(agent_id, event)), self._pending)

    async def ask(self, request: ApprovalRequested) -> ResolveApproval:
        future: asyncio.Future[ResolveApproval] = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = future
        self._emit(request)
        try:
            return await future
        except asyncio.CancelledError:
            # interrupted, or a subagent hit its time cap: the open dialog must go away
            self._emit(ApprovalResolved(request.request_id, DECISION_DENY, "harness", "withdrawn: the call was cancelled"))
            raise
        finally:
            self._pending.pop(request.request_id, None)

    def resolve(self, op: ResolveApproval) -> bool:
        future = self._pending.get(op.request_id)
        if future is None or future.done():
            return False
        future.set_result(op)
        return True


class NoPersonApprover:
    """Headless and hooks: nobody can answer, so whatever reaches here is denied."""

    async def ask(self, request: ApprovalRequested) -> ResolveApproval:
        return ResolveApproval(request.request_id, DECISION_DENY, "no person to approve (non-interactive run)")

    def for_agent(self, agent_id: str) -> "NoPersonApprover":
        return self
