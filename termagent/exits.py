"""The exit-code contract in one table: headless, the CLI and `termagent help exit-codes`
all read it, so the documented codes cannot drift from the ones the code returns.

Standard library only: `termagent help` and `--help` import it and must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExitCode:
    code: int
    reasons: tuple[str, ...]  # the `exit_reason` values (json output) that come with this code
    meaning: str


EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_DENIED = 4
EXIT_SANDBOX = 5
EXIT_INTERRUPTED = 130

EXIT_TABLE: tuple[ExitCode, ...] = (
    ExitCode(EXIT_OK, ("done",), "done, nothing denied"),
    ExitCode(EXIT_LIMIT, ("limit", "internal_error"),
             "stopped by a limit (--max-turns, --max-cost-usd, --max-tokens, --max-wall-s, the model's "
             "output token cap), or an internal error; the task did not finish"),
    ExitCode(EXIT_USAGE, ("usage_error",), "usage or config error (bad flag, workspace, config file, resume id)"),
    ExitCode(EXIT_API, ("api_error",), "model API failure (no credentials, retries exhausted, spend limit)"),
    ExitCode(EXIT_DENIED, ("denied",), "finished, but one or more actions were denied (the result may be incomplete)"),
    ExitCode(EXIT_SANDBOX, ("sandbox_error",), "sandbox unavailable or failed (e.g. the Docker engine is down)"),
    ExitCode(EXIT_INTERRUPTED, ("interrupted",), "interrupted (Ctrl+C, SIGINT)"),
)


def code_for_reason(reason: str) -> int:
    """The exit code that goes with an `exit_reason`."""
    for row in EXIT_TABLE:
        if reason in row.reasons:
            return row.code
    return EXIT_LIMIT
