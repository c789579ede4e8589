"""Operations in, events out: the only boundary between the core and its front ends.

Everything here is a frozen dataclass built from JSON-friendly values, so the same
objects serve as the stream-json output, the stored event trace and test fixtures.
Standard library only: a front end that renders events must not drag in the core.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

# ---------------------------------------------------------------- vocabularies
# StrEnum members are their wire strings, so events stay plain JSON and old traces load.


class Risk(StrEnum):
    READ = "read"
    WRITE = "write"
    EXEC = "exec"


class Subject(StrEnum):
    """What a tool's permission rules match, declared by the tool: `bash(npm test*)` matches
    the command, `write_file(src/**)` the path, `delegate(test_*)` the agent. The kind also
    says which safety checks apply: commands are classified, reads of secret files and
    writes to protected paths ask."""

    COMMAND = "command"
    READ_PATH = "read_path"  # reads a file's content
    LIST_PATH = "list_path"  # lists or searches names under a path
    WRITE_PATH = "write_path"
    AGENT = "agent"

    @property
    def argument(self) -> str:
        """The input field holding the subject."""
        return {Subject.COMMAND: "command", Subject.AGENT: "agent"}.get(self, "path")

    @property
    def is_path(self) -> bool:
        return self in (Subject.READ_PATH, Subject.LIST_PATH, Subject.WRITE_PATH)


class Decision(StrEnum):
    """A person's (or a rule's) answer to an approval request."""

    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"
    DENY = "deny"


class DecidedBy(StrEnum):
    PERSON = "person"
    RULE = "rule"
    MODE = "mode"
    CLASSIFIER = "classifier"
    SESSION = "session"
    HOOK = "hook"
    SKILL = "skill"  # a skill in use allows only its allowed-tools


class StopReason(StrEnum):
    """Why a turn ended; each maps to one headless exit reason."""

    END_TURN = "end_turn"
    MAX_TURNS = "max_turns"
    MAX_COST = "max_cost"
    MAX_TOKENS = "max_tokens"  # the --max-tokens budget, or the model's own output limit
    MAX_WALL = "max_wall"
    API_ERROR = "api_error"
    SANDBOX_ERROR = "sandbox_error"
    INTERRUPTED = "interrupted"
    ERROR = "error"


LIMIT_STOPS = frozenset({StopReason.MAX_TURNS, StopReason.MAX_COST, StopReason.MAX_TOKENS, StopReason.MAX_WALL})


class ViewKind(StrEnum):
    """How a front end shows a call's detail: the tool says which, so no front end switches on tool names."""

    COMMAND = "command"  # a shell command: highlight as bash
    DIFF = "diff"  # a unified diff: colour it
    FILE = "file"  # a file's content (or a path to one): highlight by the path's extension
    AGENT = "agent"  # a delegation: nest the subagent's activity under it
    TEXT = "text"  # anything else: shown as it is


@dataclass(frozen=True)
class CallView:
    """How a tool call shows to a person, said by the tool itself: a one-line gist, the full
    detail an approval needs (never truncated), how to render it, and the workspace paths
    it touches with what it does to them (`touch`: read, written, edited, committed)."""

    gist: str
    detail: str
    kind: str = ViewKind.TEXT
    paths: tuple[str, ...] = ()
    touch: str = ""

    @property
    def path(self) -> str:
        return self.paths[0] if self.paths else ""

    @property
    def writes(self) -> bool:
        return self.touch in ("written", "edited", "committed")


class SubagentStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    LIMIT = "limit"
    INTERRUPTED = "interrupted"


class ErrorKind(StrEnum):
    ERROR = "error"
    API = "api"
    CONFIG = "config"
    SANDBOX = "sandbox"
    TOOL = "tool"
    INTERNAL = "internal"


RISK_READ = Risk.READ
RISK_WRITE = Risk.WRITE
RISK_EXEC = Risk.EXEC

DECISION_ALLOW_ONCE = Decision.ALLOW_ONCE
DECISION_ALLOW_SESSION = Decision.ALLOW_SESSION
DECISION_DENY = Decision.DENY

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
            if isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value):
                value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]  # type: ignore[arg-type]
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


IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what the model API takes
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # the API's limit per image, decoded


@dataclass(frozen=True)
class ImageData:
    """An image the person sent with a turn: base64 text, as the API and ACP both carry it."""

    media_type: str
    data: str

    def problem(self) -> str | None:
        """Why the model could not take this image; None when it can."""
        import base64
        import binascii

        if self.media_type not in IMAGE_MEDIA_TYPES:
            return f"{self.media_type or 'an unnamed type'} is not an image type the model takes " \
                   f"({', '.join(IMAGE_MEDIA_TYPES)})"
        try:
            size = len(base64.b64decode(self.data, validate=True))
        except (binascii.Error, ValueError):
            return "the image data is not base64"
        if size > MAX_IMAGE_BYTES:
            return f"the image is {size / 1_048_576:.1f} MB; the model takes at most {MAX_IMAGE_BYTES // 1_048_576} MB"
        return None

    def to_block(self) -> dict[str, Any]:
        """The image as an API content block."""
        return {"type": "image", "source": {"type": "base64", "media_type": self.media_type, "data": self.data}}


@dataclass(frozen=True)
class SubmitTurn(Operation):
    type: ClassVar[str] = "submit_turn"
    text: str
    images: tuple[ImageData, ...] = ()  # sent after the text, in the order given

    def __post_init__(self) -> None:
        if any(isinstance(image, dict) for image in self.images):  # rebuilt by from_dict
            object.__setattr__(self, "images", tuple(ImageData(**i) if isinstance(i, dict) else i
                                                     for i in self.images))


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


@dataclass(frozen=True)
class SetModel(Operation):
    """Use another model for a role from the next request on; answered by ModelChanged.

    Sent during a turn it waits for the turn to end, so no request is cut off mid-way.
    """

    type: ClassVar[str] = "set_model"
    model: str
    role: str = "main"


@dataclass(frozen=True)
class SetMode(Operation):
    """Change the permission mode now (plan, ask, accept-edits, auto); answered by ModeChanged."""

    type: ClassVar[str] = "set_mode"
    mode: str


@dataclass(frozen=True)
class Compact(Operation):
    """Fold older turns into the state document now (or before the running turn's next request)."""

    type: ClassVar[str] = "compact"
    focus: str = ""


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


# ---------------------------------------------------------------- read-only status


@dataclass(frozen=True)
class Totals:
    """Token counts in the API's own names."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def cache_hit_rate(self) -> float | None:
        prompt = self.prompt_tokens
        return self.cache_read_input_tokens / prompt if prompt else None


@dataclass(frozen=True)
class BudgetLimits:
    """0 means no cap."""

    max_turns: int = 0
    max_cost_usd: float = 0.0
    max_tokens: int = 0
    max_wall_s: float = 0.0


@dataclass(frozen=True)
class JobView:
    id: str
    command: str
    status: str


@dataclass(frozen=True)
class DenialView:
    tool: str
    input: str
    reason: str
    decided_by: str


@dataclass(frozen=True)
class ToolCallView:
    name: str
    ok: bool
    duration_s: float


@dataclass(frozen=True)
class SessionStatus:
    """What a front end may know about a session, as a snapshot: never a handle into the loop."""

    session_id: str
    workspace: str
    model: str
    mode: str
    busy: bool
    resumed: bool
    turns: int
    usage: Totals
    cost_usd: float
    limits: BudgetLimits
    context_tokens: int
    context_window: int
    sandbox: str
    modes: tuple[str, ...] = ()  # the modes a front end may offer, in cycling order
    jobs: tuple[JobView, ...] = ()
    denials: tuple[DenialView, ...] = ()
    tool_calls: tuple[ToolCallView, ...] = ()
    memory_changed: tuple[dict[str, Any], ...] = ()  # project memory another session changed (path, by_agent)
    mcp_servers: tuple[dict[str, Any], ...] = ()  # name, transport, status, tools
