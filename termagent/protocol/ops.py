"""Operations: what a front end asks of a session (a turn, an answer, a settings change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from termagent.protocol.message import Message


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
