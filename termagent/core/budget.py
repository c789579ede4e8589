"""Caps the harness enforces, whatever the prompt says: turns, tokens, cost, wall time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from termagent.model.pricing import Usage
from termagent.protocol import BudgetLimits, StopReason


@dataclass(frozen=True)
class LimitHit:
    """Which cap stopped the work, and the sentence that says so."""

    stop_reason: StopReason
    message: str


Limits = BudgetLimits  # the caps a budget enforces are the ones the status view shows


@dataclass
class Budget:
    """Shared by a session and its subagents, so a child's spending counts for the parent."""

    limits: Limits
    parent: "Budget | None" = None
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def start_task(self) -> None:
        """Turn and wall-time caps count per task (one user turn); cost and tokens per session."""
        self.turns = 0
        self.started = time.monotonic()

    def add_turn(self) -> None:
        self.turns += 1

    def add_usage(self, usage: Usage, cost: float) -> None:
        self.usage = self.usage + usage
        self.cost_usd += cost
        if self.parent is not None:
            self.parent.add_usage(usage, cost)

    def exceeded(self) -> LimitHit | None:
        """The cap to stop at now, if any (here or in a parent) has been reached."""
        limits = self.limits
        if limits.max_turns and self.turns >= limits.max_turns:
            return LimitHit(StopReason.MAX_TURNS, f"max turns reached ({limits.max_turns})")
        if limits.max_cost_usd and self.cost_usd >= limits.max_cost_usd:
            return LimitHit(StopReason.MAX_COST,
                            f"cost cap reached (${self.cost_usd:.4f} of ${limits.max_cost_usd:.4f})")
        if limits.max_tokens and self.usage.total_tokens >= limits.max_tokens:
            return LimitHit(StopReason.MAX_TOKENS,
                            f"token cap reached ({self.usage.total_tokens} of {limits.max_tokens})")
        if limits.max_wall_s and time.monotonic() - self.started >= limits.max_wall_s:
            return LimitHit(StopReason.MAX_WALL, f"time cap reached ({limits.max_wall_s:.0f} s)")
        return self.parent.exceeded() if self.parent is not None else None
