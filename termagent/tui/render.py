"""Turn untrusted text (model output, tool output, diffs) into inert Rich renderables.

Everything shown in the TUI passes through here first: terminal control sequences are
stripped so output cannot move the cursor or plant a fake prompt, and text becomes a
Rich `Text` (never a markup string), so `[bold]` in a file is shown, not obeyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from termagent.terminal_text import strip_terminal_controls
from termagent.protocol import ViewKind

HEAD_LINES = 12
TAIL_LINES = 12
FULL_LINES_CAP = 20_000
_NUMBERED = re.compile(r"^\s*(\d+)\t(.*)$")
_PRINTS_FILE = re.compile(r"^(?:cat|bat|head|tail)(?:\s+-n\s*\d+|\s+-\d+)?\s+([\w./-]+)$")


def safe(text: str) -> str:
    """Tool or model text with terminal controls removed (tabs and newlines kept)."""
    return strip_terminal_controls(text)


def plain(text: str, style: str = "") -> Text:
    """A Text that shows `text` literally: no markup, no control sequences."""
    return Text(safe(text), style=style, end="")


@lru_cache(maxsize=256)
def lexer_for_path(path: str) -> str:
    """Pygments lexer alias for a file name, 'text' when unknown (never guesses from content)."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(path.rsplit("/", 1)[-1] or path, stripnl=False)
    except ClassNotFound:
        return "text"
    return lexer.aliases[0] if lexer.aliases else "text"


def syntax_theme(dark: bool) -> str:
    return "ansi_dark" if dark else "ansi_light"


def code(text: str, lexer: str, dark: bool, line_numbers: bool = False, start_line: int = 1) -> RenderableType:
    """Highlighted code; falls back to plain text for unknown lexers."""
    if lexer in ("", "text"):
        return plain(text)
    return Syntax(safe(text), lexer, theme=syntax_theme(dark), line_numbers=line_numbers, start_line=start_line,
                  word_wrap=True)


def highlighted(text: str, lexer: str, dark: bool) -> Text:
    """Highlighted code as a Text, to join with other text on one line."""
    text = safe(text)
    result = Syntax(text, lexer, theme=syntax_theme(dark)).highlight(text)
    result.rstrip()
    result.end = ""
    return result


@dataclass(frozen=True)
class Clipped:
    """Lines to show and how many were left out of the middle."""

    lines: list[str]
    hidden: int
    head: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def head_tail(text: str, head: int = HEAD_LINES, tail: int = TAIL_LINES) -> Clipped:
    """Keep the first and last lines of a long output; the middle is what scrolls by unread."""
    lines = text.splitlines()
    if len(lines) <= head + tail + 1:
        return Clipped(lines, 0, len(lines))
    return Clipped(lines[:head] + lines[-tail:], len(lines) - head - tail, head)


def capped(text: str, limit: int = FULL_LINES_CAP) -> Clipped:
    """At most `limit` lines, for the 'show everything' view of a huge output."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return Clipped(lines, 0, len(lines))
    return Clipped(lines[:limit], len(lines) - limit, limit)


def diff(text: str, dark: bool) -> Text:
    """A unified diff coloured line by line (added green, removed red, hunks cyan)."""
    added = "green" if dark else "dark_green"
    removed = "red" if dark else "dark_red"
    out = Text(end="")
    for index, line in enumerate(safe(text).splitlines()):
        if index:
            out.append("\n")
        if line.startswith(("+++", "---")):
            out.append(line, style="bold")
        elif line.startswith("@@"):
            out.append(line, style="cyan")
        elif line.startswith("+"):
            out.append(line, style=added)
        elif line.startswith("-"):
            out.append(line, style=removed)
        else:
            out.append(line, style="dim" if line.startswith("\\") else "")
    return out


def looks_like_diff(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith(("--- ", "diff --git", "@@ ")) or "\n@@ " in head


def numbered_listing(lines: list[str]) -> tuple[int, str] | None:
    """read_file output ('   12\\tcode') as (first line number, code), when it is one."""
    matches = [_NUMBERED.match(line) for line in lines]
    if not lines or any(m is None for m in matches):
        return None
    numbers = [int(m.group(1)) for m in matches if m]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return None
    return numbers[0], "\n".join(m.group(2) for m in matches if m)


def shown_file(command: str) -> str | None:
    """The file a command just prints (`cat x.py`, `head -n 40 x.py`), to highlight its output."""
    match = _PRINTS_FILE.match(command.strip())
    return match.group(1) if match else None


class Viewed(Protocol):
    """What a tool said about its call (ToolRecord has it): how to show it, which file it is about."""

    @property
    def view(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def command(self) -> str: ...


def tool_output(call: Viewed, dark: bool, lines: list[str]) -> RenderableType:
    """The body of a tool call: highlighted by the view its tool chose and the file it touched."""
    text = "\n".join(lines)
    if call.view == ViewKind.DIFF or looks_like_diff(text):
        return diff(text, dark)
    if call.view == ViewKind.COMMAND:
        path = shown_file(call.command)
        lexer = lexer_for_path(path) if path else "text"
        if lexer != "text":
            return code(text, lexer, dark)
    if call.view == ViewKind.FILE and call.path:
        listing = numbered_listing(lines)
        lexer = lexer_for_path(call.path)
        if listing is not None and lexer != "text":
            start, body = listing
            return code(body, lexer, dark, line_numbers=True, start_line=start)
    return plain(text)


def clipped_output(call: Viewed, output: str, dark: bool, full: bool) -> tuple[RenderableType, int]:
    """Body renderable and the number of lines left out (0 when everything is shown)."""
    clip = capped(output) if full else head_tail(output)
    if clip.hidden == 0 or full:
        body = tool_output(call, dark, clip.lines)
        if clip.hidden:
            return stack(body, Text(f"… {clip.hidden:,} more lines not shown", style="dim italic")), clip.hidden
        return body, 0
    top = tool_output(call, dark, clip.lines[: clip.head])
    bottom = tool_output(call, dark, clip.lines[clip.head:])
    marker = Text(f"… {clip.hidden:,} lines hidden · enter/click shows all …", style="dim italic")
    return stack(top, marker, bottom), clip.hidden


def stack(*parts: RenderableType) -> RenderableType:
    """Renderables one under another. Every Text must end in a newline: without it a Text
    runs into the next part, and a group's last line is lost when Textual measures it."""
    fixed: list[RenderableType] = []
    for part in parts:
        if isinstance(part, Text) and part.end != "\n":
            part = part.copy()
            part.end = "\n"
        fixed.append(part)
    return fixed[0] if len(fixed) == 1 else Group(*fixed)


def compact_number(value: float) -> str:
    """12345 -> '12.3k', for a status bar that must fit 80 columns."""
    if value < 1000:
        return f"{int(value)}"
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.2f}M"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
