"""The exit-code contract in one table: headless, the CLI, the hooks and `termagent help
exit-codes` all read it, so the documented codes cannot drift from the ones returned.

Standard library only: `termagent help` and `--help` import it and must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExitReason(StrEnum):
    """Headless `exit_reason`: one value per way a run ends."""

    DONE = "done"
    DENIED = "denied"
    MAX_TURNS = "max_turns"
    MAX_COST = "max_cost"
    MAX_TOKENS = "max_tokens"
    MAX_WALL = "max_wall"
    API_ERROR = "api_error"
    SANDBOX_ERROR = "sandbox_error"
    INTERRUPTED = "interrupted"
    INTERNAL_ERROR = "internal_error"
    USAGE_ERROR = "usage_error"  # the run never started: a bad flag, workspace, config or resume id


@dataclass(frozen=True)
class ExitCode:
    code: int
    reasons: tuple[ExitReason, ...]  # the `exit_reason` values (json output) that come with this code
    meaning: str


EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_DENIED = 4
EXIT_SANDBOX = 5
EXIT_INTERRUPTED = 130

EXIT_TABLE: tuple[ExitCode, ...] = (
    ExitCode(EXIT_OK, (ExitReason.DONE,), "done, nothing denied"),
    ExitCode(EXIT_LIMIT, (ExitReason.MAX_TURNS, ExitReason.MAX_COST, ExitReason.MAX_TOKENS, ExitReason.MAX_WALL,
                          ExitReason.INTERNAL_ERROR),
             "stopped by a limit (--max-turns, --max-cost-usd, --max-tokens or the model's output token cap, "
             "--max-wall-s), or an internal error; the task did not finish"),
    ExitCode(EXIT_USAGE, (ExitReason.USAGE_ERROR,),
             "usage or config error (bad flag, workspace, config file, resume id)"),
    ExitCode(EXIT_API, (ExitReason.API_ERROR,), "model API failure (no credentials, retries exhausted, spend limit)"),
    ExitCode(EXIT_DENIED, (ExitReason.DENIED,),
             "finished, but one or more actions were denied (the result may be incomplete)"),
    ExitCode(EXIT_SANDBOX, (ExitReason.SANDBOX_ERROR,), "sandbox unavailable or failed (e.g. the Docker engine is down)"),
    ExitCode(EXIT_INTERRUPTED, (ExitReason.INTERRUPTED,), "interrupted (Ctrl+C, SIGINT)"),
)

# a turn's stop reason (protocol.StopReason values) -> how the run ended; others end in done/denied
_EXIT_FOR_STOP: dict[str, ExitReason] = {
    "interrupted": ExitReason.INTERRUPTED,
    "api_error": ExitReason.API_ERROR,
    "sandbox_error": ExitReason.SANDBOX_ERROR,
    "error": ExitReason.INTERNAL_ERROR,
    "max_turns": ExitReason.MAX_TURNS,
    "max_cost": ExitReason.MAX_COST,
    "max_tokens": ExitReason.MAX_TOKENS,
    "max_wall": ExitReason.MAX_WALL,
}


def code_for_reason(reason: str) -> int:
    """The exit code that goes with an `exit_reason`."""
    for row in EXIT_TABLE:
        if reason in row.reasons:
            return row.code
    return EXIT_LIMIT


def exit_reason_for(stop_reason: str, denied: bool) -> ExitReason:
    """A finished turn's exit reason: a limit or failure first, then any denial, else done."""
    reason = _EXIT_FOR_STOP.get(stop_reason)
    if reason is not None:
        return reason
    return ExitReason.DENIED if denied else ExitReason.DONE
