"""What a front end reads rather than receives: how a call shows, and the session's status snapshot.

Frozen records of plain values, so a front end can keep one without holding anything of the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from termagent.protocol.vocabulary import ViewKind


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
