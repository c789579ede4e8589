"""The plain line-mode front end (`termagent --plain`). prompt_toolkit is imported only
when `run_plain` runs, so the rest of termagent never pays for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from termagent.core.door import SessionLike


def run_plain(session: "SessionLike", reopen: Callable[[str | None], Any] | None = None) -> int:
    """Read prompts until the person quits (/quit, ctrl+d, ctrl+c twice); returns the exit code."""
    import asyncio

    from termagent.plain.repl import PlainRepl

    return asyncio.run(PlainRepl(session, reopen).run())
