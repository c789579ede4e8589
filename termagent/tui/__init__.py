"""The full-screen Textual front end. Importing this package stays light: textual is
imported only when `run_tui` runs, so `termagent --task` never pays for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from termagent.core.door import SessionLike


def run_tui(session: "SessionLike", reopen: Callable[[str | None], Any] | None = None) -> int:
    """Run the app until the person quits; returns the exit code (0, or 130 after ctrl+c).

    `reopen(None)` opens a fresh session and `reopen(id)` resumes a stored one, for
    /clear and /resume; without it those commands say they are unavailable.
    TERMAGENT_THEME picks a Textual theme (e.g. textual-light, nord, gruvbox).
    """
    import os

    from termagent.tui.app import TermagentApp

    return run_app(TermagentApp(session, reopen, theme=os.environ.get("TERMAGENT_THEME")))


def run_app(app: Any, headless: bool = False) -> int:
    """Run the app; a bug that escapes it still ends the run honestly.

    Textual restores the terminal itself; here the session is closed (its messages are
    already in the store), the person is told how to get it back, and the exit is 1
    (internal_error) rather than the 0 a crash used to leave behind."""
    import sys

    result = app.run(headless=headless)
    if not app.detached:
        _close_quietly(app.session)
    if app.return_code:
        error = getattr(app, "_exception", None)
        what = f" ({type(error).__name__}: {error})" if error is not None else ""
        sid = app.session.session_id
        print(f"termagent: the app stopped on an internal error{what}; session {sid} is kept: "
              f"termagent --resume {sid}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else app.exit_code


def _close_quietly(session: "SessionLike") -> None:
    """The app stopped without shutting the session down (it crashed): still remove the sandbox."""
    import asyncio

    try:
        asyncio.run(session.close("crashed"))
    except Exception:  # noqa: BLE001 - best effort on the way out
        pass
