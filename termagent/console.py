"""Host-side printing: every line the CLI writes to a terminal passes the one sanitiser.

File names, commit messages, review findings and session text can all come from the
sandbox or the model. Written raw they could clear the screen, set the clipboard
(OSC 52) or the window title. `say` strips those sequences from free text; `name`
escapes them in a single identifier (a path) so the person still sees that it is odd.
"""

from __future__ import annotations

import sys
from typing import TextIO

from termagent.terminal_text import strip_terminal_controls, visible


def clean(text: str) -> str:
    """Free text without escape sequences or control characters (newlines and tabs kept)."""
    return strip_terminal_controls(str(text))


def name(text: str) -> str:
    """One identifier on one line: controls, bidi and invisible characters shown as escapes."""
    shown, _ = visible(str(text))
    return shown.replace("\n", "\\n").replace("\t", "\\t")


def say(text: str, file: TextIO | None = None, flush: bool = False) -> None:
    """print() for anything that may hold untrusted text."""
    print(clean(text), file=file or sys.stdout, flush=flush)


def warn(text: str, flush: bool = True) -> None:
    say(text, file=sys.stderr, flush=flush)
