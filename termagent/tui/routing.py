"""From core events to what the TUI shows: one method per event type.

Kept apart from the app so the mapping reads as a table and the app keeps to layout,
keys and the session's lifecycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from termagent.protocol import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    AssistantTextDelta,
    CompactionDone,
    Error,
    Event,
    LIMIT_STOPS,
    FilesChangedExternally,
    ModeChanged,
    ModelChanged,
    ModelRetrying,
    ModelWaiting,
    SessionStarted,
    SubagentEvent,
    SubagentFinished,
    SubagentStarted,
    ToolCallFinished,
    ToolCallOutputDelta,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    UsageUpdated,
    Warning,
)

if TYPE_CHECKING:
    from termagent.core.door import SessionLike
    from termagent.tui.conversation import ConversationView
    from termagent.tui.status import StatusBar

STOP_NOTES = {
    "interrupted": ("warning", "interrupted — the conversation is intact; say what to do next"),
    "max_tokens": ("warning", "the reply hit the output token limit and was cut short"),
}


def coalesce(batch: list[Event]) -> list[Event]:
    """Join adjacent text deltas (and output deltas of one call): one render instead of many."""
    out: list[Event] = []
    for event in batch:
        last = out[-1] if out else None
        if isinstance(event, AssistantTextDelta) and isinstance(last, AssistantTextDelta):
            out[-1] = AssistantTextDelta(last.text + event.text)
        elif (isinstance(event, ToolCallOutputDelta) and isinstance(last, ToolCallOutputDelta)
              and last.call_id == event.call_id):
            out[-1] = ToolCallOutputDelta(event.call_id, last.text + event.text)
        else:
            out.append(event)
    return out


class RoutedApp(Protocol):
    """What the router drives: the app's widgets, its counters and its approval queue.

    A protocol rather than the app class, so the app can own a router without the two
    modules importing each other."""

    session: "SessionLike"
    view: "ConversationView"
    status: "StatusBar"
    requests: int
    turns_finished: int

    def ask_approval(self, request: ApprovalRequested, agent: str = "") -> None: ...

    def approval_settled(self, request_id: str) -> None: ...

    def dismiss_approvals(self) -> None: ...

    def turn_began(self, text: str) -> None: ...

    def set_busy(self, busy: bool) -> None: ...


class EventRouter:
    def __init__(self, app: RoutedApp) -> None:
        self.app = app
        self.table: dict[type, Callable] = {
            SessionStarted: self.session_started, TurnStarted: self.turn_started,
            AssistantTextDelta: lambda e: self.app.view.assistant_delta(e.text),
            AssistantMessage: lambda e: self.app.view.assistant_message(e.text),
            ToolCallStarted: lambda e: self.app.view.tool_started(e),
            ToolCallOutputDelta: lambda e: self.app.view.tool_output(e),
            ToolCallFinished: lambda e: self.app.view.tool_finished(e),
            ApprovalRequested: self.app.ask_approval,
            ApprovalResolved: lambda e: self.app.approval_settled(e.request_id),
            SubagentStarted: lambda e: self.app.view.subagent_started(e),
            SubagentEvent: self.subagent_event,
            SubagentFinished: lambda e: self.app.view.subagent_finished(e),
            CompactionDone: self.compaction_done,
            FilesChangedExternally: self.files_changed,
            UsageUpdated: lambda e: self.usage_changed(main=e),
            ModeChanged: lambda e: self.app.status.set(mode=e.mode),
            ModelChanged: lambda e: self.app.status.set(model=e.model) if e.role == "main" else None,
            ModelRetrying: lambda e: self.app.view.retrying(e),
            ModelWaiting: lambda e: self.app.view.notice("retry", e.message),
            Warning: lambda e: self.app.view.notice("warning", e.message),
            Error: lambda e: self.app.view.notice("error", e.message),
            TurnFinished: self.turn_finished,
        }

    def handle(self, event: Event) -> None:
        handler = self.table.get(type(event))
        if handler is not None:
            handler(event)

    def session_started(self, event: SessionStarted) -> None:
        app = self.app
        app.status.set(model=event.model, sandbox=event.sandbox or "none")
        name = app.session.workspace.name
        verb = "resumed" if event.resumed else "new session"
        app.view.notice("info", f"termagent · {verb} in {name} · {event.model} · sandbox {event.sandbox or 'none'}"
                                " · /help for commands and keys")

    def turn_started(self, event: TurnStarted) -> None:
        self.app.turn_began(event.text)
        self.app.view.user(event.text)
        self.app.set_busy(True)

    def turn_finished(self, event: TurnFinished) -> None:
        app = self.app
        app.turns_finished += 1
        app.view.turn_finished(event.stop_reason)
        app.dismiss_approvals()
        if event.stop_reason in STOP_NOTES:
            kind, text = STOP_NOTES[event.stop_reason]
            app.view.notice(kind, text)
        elif event.stop_reason in LIMIT_STOPS:
            app.view.notice("warning", f"stopped: {event.detail or 'a limit was reached'}")
        app.set_busy(bool(app.session.busy))

    def subagent_event(self, event: SubagentEvent) -> None:
        inner = event.event
        if isinstance(inner, ApprovalRequested):
            self.app.ask_approval(inner, event.agent_id)
        elif isinstance(inner, UsageUpdated):
            self.usage_changed(main=None)
        else:
            self.app.view.subagent_event(event.agent_id, inner)

    def usage_changed(self, main: UsageUpdated | None) -> None:
        """Totals come from the session's budget, which already counts subagents' spending."""
        status = self.app.session.status()
        usage = status.usage
        changes = dict(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                       cache_read=usage.cache_read_input_tokens, cache_write=usage.cache_creation_input_tokens,
                       cost_usd=status.cost_usd)
        if main is not None and main.role == "main":
            self.app.requests += 1
            changes.update(request_input_tokens=main.request_input_tokens, context_window=main.context_window)
        self.app.status.set(**changes)

    def compaction_done(self, event: CompactionDone) -> None:
        self.app.view.notice("compaction", f"compacted {event.turns_folded} turns: "
                                           f"{event.tokens_before:,} → {event.tokens_after:,} tokens")

    def files_changed(self, event: FilesChangedExternally) -> None:
        paths = ", ".join(event.paths[:8]) + (f" and {len(event.paths) - 8} more" if len(event.paths) > 8 else "")
        self.app.view.notice("info", f"changed outside termagent: {paths}")
