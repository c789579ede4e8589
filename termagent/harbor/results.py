"""termagent's headless json, read for Harbor: token totals, cost, and what an exit code means.

No Harbor imports here (plain values in, plain values out), so it is tested without Harbor.
The headless usage already counts subagents (they spend from the session's budget).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# exit codes (termagent/exits.py) after which the task's tests should still judge the work
# without Harbor recording an agent failure: done, and finished with some actions denied
FINISHED = frozenset({0, 4})
LIMIT_REASONS = frozenset({"max_turns", "max_cost", "max_tokens", "max_wall"})


@dataclass(frozen=True)
class Outcome:
    """What one headless run reported; `payload` is None when stdout held no json object."""

    exit_code: int
    payload: dict[str, Any] | None
    n_input_tokens: int = 0  # including cache reads and writes, as Harbor counts them
    n_cache_tokens: int = 0
    n_output_tokens: int = 0
    cost_usd: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_reason(self) -> str:
        return str((self.payload or {}).get("exit_reason") or "no_output")

    def failure(self) -> str | None:
        """None when Harbor should count the run as the agent's honest attempt, else why not.

        Stopping at a limit is an outcome, not a crash: the tests judge what was done.
        """
        if self.exit_code in FINISHED or self.exit_reason in LIMIT_REASONS:
            return None
        detail = (self.payload or {}).get("detail") or ""
        return f"termagent exited {self.exit_code} ({self.exit_reason}){': ' + detail if detail else ''}"


def parse(stdout: str, exit_code: int) -> Outcome:
    """The last json object line of `stdout` (headless prints exactly one, also on failure)."""
    payload = _last_object(stdout)
    if payload is None:
        return Outcome(exit_code, None)
    usage = payload.get("usage") or {}
    cache_read = _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    return Outcome(
        exit_code,
        payload,
        n_input_tokens=_int(usage.get("input_tokens")) + cache_read + cache_write,
        n_cache_tokens=cache_read,
        n_output_tokens=_int(usage.get("output_tokens")),
        cost_usd=float(payload.get("cost_usd") or 0.0),
        metadata={
            "termagent_session_id": payload.get("session_id"),
            "exit_code": exit_code,
            "exit_reason": payload.get("exit_reason"),
            "turns": payload.get("turns"),
            "tool_calls": len(payload.get("tool_calls") or []),
            "denials": payload.get("denials") or [],
            "subagents": payload.get("subagents") or [],
            "cache_creation_input_tokens": cache_write,
        },
    )


def _last_object(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
