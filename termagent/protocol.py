"""Operations in, events out: the only boundary between the core and its front ends.

Everything here is a frozen dataclass built from JSON-friendly values, so the same
objects serve as the stream-json output, the stored event trace and test fixtures.
Standard library only: a front end that renders events must not drag in the core.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

RISK_READ = "read"
RISK_WRITE = "write"
RISK_EXEC = "exec"

DECISION_ALLOW_ONCE = "allow_once"
DECISION_ALLOW_SESSION = "allow_session"
DECISION_DENY = "deny"

_REGISTRY: dict[str, type["Message"]] = {}


@dataclass(frozen=True)
class Message:
    """Base of operations and events: carries its wire name in `type`."""

    type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            _REGISTRY[cls.type] = cls

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.to_dict() if isinstance(value, Message) else value
        return data


def from_dict(data: dict[str, Any]) -> Message:
    """Rebuild an operation or event from `to_dict` output (stored traces, fixtures)."""
    cls = _REGISTRY[data["type"]]
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            if isinstance(value, dict) and "type" in value and value["type"] in _REGISTRY:
                value = from_dict(value)
            kwargs[f.name] = value
    return cls(**kwargs)


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation(Message):
    pass


@dataclass(frozen=True)
class SubmitTurn(Operation):
    type: ClassVar[str] = "submit_turn"
    text: str


@dataclass(frozen=True)
class Interrupt(Operation):
    type: ClassVar[str] = "interrupt"


@dataclass(frozen=True)
class ResolveApproval(Operation):
    type: ClassVar[str] = "resolve_approval"
    request_id: str
    decision: str  # DECISION_*
    reason: str = ""


@dataclass(frozen=True)
class Shutdown(Operation):
    type: ClassVar[str] = "shutdown"


# ---------------------------------------------------------------- events


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


@dataclass(frozen=True)
class ApprovalResolved(Event):
    type: ClassVar[str] = "approval_resolved"
    request_id: str
    decision: str
    decided_by: str  # "person", "rule", "mode", "classifier", "session"
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
    status: str
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
    kind: str = "error"  # "api", "config", "sandbox", "tool", "internal"


@dataclass(frozen=True)
class TurnFinished(Event):
    type: ClassVar[str] = "turn_finished"
    stop_reason: str  # end_turn, max_turns, budget, interrupted, error, ...
    text: str = ""


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
