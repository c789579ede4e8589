"""Events: everything a session tells its front ends, in the order it happens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from termagent.protocol.message import Message
from termagent.protocol.vocabulary import RISK_READ, ErrorKind, ViewKind


@dataclass(frozen=True)
class Event(Message):
    pass


@dataclass(frozen=True)
class SessionStarted(Event):
    type: ClassVar[str] = "session_started"
    session_id: str
    model: str
    workspace: str
    resumed: bool = False
    sandbox: str = ""


@dataclass(frozen=True)
class TurnStarted(Event):
    type: ClassVar[str] = "turn_started"
    turn: int
    text: str = ""


@dataclass(frozen=True)
class AssistantTextDelta(Event):
    type: ClassVar[str] = "assistant_text_delta"
    text: str


@dataclass(frozen=True)
class AssistantMessage(Event):
    type: ClassVar[str] = "assistant_message"
    text: str


@dataclass(frozen=True)
class ToolCallStarted(Event):
    type: ClassVar[str] = "tool_call_started"
    call_id: str
    name: str
    input: dict[str, Any]
    risk: str = RISK_READ
    gist: str = ""  # one line, as the tool describes itself
    view: str = ViewKind.TEXT
    path: str = ""  # the file the call is about, when there is one
    command: str = ""  # a command view's full command, shown above its output


@dataclass(frozen=True)
class ToolCallOutputDelta(Event):
    type: ClassVar[str] = "tool_call_output_delta"
    call_id: str
    text: str


@dataclass(frozen=True)
class ToolCallFinished(Event):
    type: ClassVar[str] = "tool_call_finished"
    call_id: str
    name: str
    ok: bool
    output: str
    duration_s: float
    error_type: str | None = None
    decision: str = ""  # allow or deny ('' when no decision was needed: a malformed call)
    decided_by: str = ""  # DecidedBy


@dataclass(frozen=True)
class ApprovalRequested(Event):
    """Answered by a ResolveApproval operation carrying the same request_id."""

    type: ClassVar[str] = "approval_requested"
    request_id: str
    call_id: str
    tool: str
    summary: str
    detail: str = ""
    reason: str = ""
    destructive: bool = False
    view: str = ViewKind.TEXT
    path: str = ""


@dataclass(frozen=True)
class ApprovalResolved(Event):
    type: ClassVar[str] = "approval_resolved"
    request_id: str
    decision: str
    decided_by: str  # DecidedBy
    reason: str = ""


@dataclass(frozen=True)
class SubagentStarted(Event):
    type: ClassVar[str] = "subagent_started"
    agent_id: str
    agent: str
    task: str
    call_id: str = ""


@dataclass(frozen=True)
class SubagentEvent(Event):
    """A child's event, wrapped so front ends can nest it under its delegate call."""

    type: ClassVar[str] = "subagent_event"
    agent_id: str
    event: Event


@dataclass(frozen=True)
class SubagentFinished(Event):
    type: ClassVar[str] = "subagent_finished"
    agent_id: str
    agent: str
    status: str  # SubagentStatus
    summary: str
    usage: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0


@dataclass(frozen=True)
class CompactionDone(Event):
    type: ClassVar[str] = "compaction_done"
    turns_folded: int
    tokens_before: int
    tokens_after: int
    summary: str = ""


@dataclass(frozen=True)
class FilesChangedExternally(Event):
    """Files someone else changed in the workspace since the agent last looked."""

    type: ClassVar[str] = "files_changed_externally"
    paths: tuple[str, ...]


@dataclass(frozen=True)
class UsageUpdated(Event):
    """Totals for the session so far, plus the figures of the request just made."""

    type: ClassVar[str] = "usage"
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_usd: float
    request_input_tokens: int = 0
    context_window: int = 0
    role: str = "main"
    model: str = ""  # the model that answered the request just made
    stop_reason: str = ""  # why that answer ended (end_turn, tool_use, max_tokens)
    request_usage: dict[str, int] = field(default_factory=dict)  # that request's own tokens, by the API's names
    request_cost_usd: float = 0.0


@dataclass(frozen=True)
class ModelRequestStarted(Event):
    """A model request is about to go out (its end is the UsageUpdated of the same role)."""

    type: ClassVar[str] = "model_request_started"
    role: str
    model: str


@dataclass(frozen=True)
class ModelRetrying(Event):
    """A request failed and will be sent again; streamed text since the last request is void."""

    type: ClassVar[str] = "model_retrying"
    attempt: int
    delay_s: float
    reason: str
    discarded_chars: int = 0


@dataclass(frozen=True)
class Warning(Event):  # noqa: A001 - the design names it so
    type: ClassVar[str] = "warning"
    message: str


@dataclass(frozen=True)
class Error(Event):
    type: ClassVar[str] = "error"
    message: str
    kind: str = ErrorKind.ERROR


@dataclass(frozen=True)
class TurnFinished(Event):
    type: ClassVar[str] = "turn_finished"
    stop_reason: str  # StopReason
    text: str = ""
    detail: str = ""  # which limit, which error: the sentence a front end shows


@dataclass(frozen=True)
class SessionFinished(Event):
    type: ClassVar[str] = "session_finished"
    session_id: str
    exit_reason: str


@dataclass(frozen=True)
class ModelWaiting(Event):
    """The model has been silent for `waited_s` (slow first byte, a stalled stream), or a
    retry the server asked to delay starts in `remaining_s`; `message` is the line to show,
    e.g. "waiting for the model (30 s)…". Repeated every few seconds while it lasts."""

    type: ClassVar[str] = "model_waiting"
    waited_s: float
    remaining_s: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class ModelChanged(Event):
    type: ClassVar[str] = "model_changed"
    model: str
    role: str = "main"


@dataclass(frozen=True)
class ModeChanged(Event):
    type: ClassVar[str] = "mode_changed"
    mode: str
