"""Core events as lines on a plain terminal: streamed prose, highlighted code, tool lines.

Prose is written as it streams; a line that may open or sits inside a code fence is held
until it is complete, then highlighted with pygments for the fence's language. Every
piece of model or tool text is stripped of terminal control sequences first, so it
cannot move the cursor, retitle the window or write to the clipboard.
"""

from __future__ import annotations

from typing import TextIO

from termagent.core.door import clip
from termagent.terminal_text import strip_terminal_controls
from termagent.protocol import (
    AssistantMessage,
    AssistantTextDelta,
    CompactionDone,
    Error,
    Event,
    FilesChangedExternally,
    ModelRetrying,
    ModelWaiting,
    SubagentEvent,
    SubagentFinished,
    SubagentStarted,
    ToolCallFinished,
    ToolCallOutputDelta,
    ToolCallStarted,
    TurnFinished,
    Warning,
    ViewKind,
)

RESET, BOLD, DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
RED, GREEN, YELLOW, CYAN, MAGENTA = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[35m"
LIVE_LINES_CAP = 200
HEAD, TAIL = 8, 8


class Palette:
    """ANSI styling that turns into nothing when colour is off (pipes, tests)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        return f"{''.join(styles)}{text}{RESET}" if self.color and styles else text

    def code(self, line: str, language: str) -> str:
        if not self.color:
            return line
        from pygments import highlight
        from pygments.formatters import Terminal256Formatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        try:
            lexer = get_lexer_by_name(language or "text", stripnl=False, ensurenl=False)
        except ClassNotFound:
            return line
        return highlight(line, lexer, Terminal256Formatter(style="monokai")).rstrip("\n")

    def diff(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            if line.startswith(("+++", "---")):
                lines.append(self(line, BOLD))
            elif line.startswith("@@"):
                lines.append(self(line, CYAN))
            elif line.startswith("+"):
                lines.append(self(line, GREEN))
            elif line.startswith("-"):
                lines.append(self(line, RED))
            else:
                lines.append(line)
        return "\n".join(lines)


class FenceStream:
    """Streams markdown prose at once and code-fence lines whole, highlighted."""

    def __init__(self, write, palette: Palette) -> None:
        self.write = write
        self.palette = palette
        self.buffer = ""
        self.at_line_start = True
        self.fence: str | None = None  # language of the open fence, "" for a bare one

    def feed(self, text: str) -> None:
        self.buffer += text
        while self.buffer:
            if self._needs_whole_line():
                newline = self.buffer.find("\n")
                if newline < 0:
                    return
                line, self.buffer = self.buffer[:newline], self.buffer[newline + 1:]
                self._line(line)
                continue
            newline = self.buffer.find("\n")
            chunk = self.buffer if newline < 0 else self.buffer[: newline + 1]
            self.buffer = self.buffer[len(chunk):]
            self.write(chunk)
            self.at_line_start = newline >= 0

    def _needs_whole_line(self) -> bool:
        if self.fence is not None:
            return True
        if not self.at_line_start:
            return False
        head = self.buffer.lstrip(" ")
        return head.startswith("`") or (head == "" and len(self.buffer) < 4)

    def _line(self, line: str) -> None:
        stripped = line.strip()
        if stripped.startswith("```"):
            self.fence = None if self.fence is not None else stripped[3:].strip()
            self.write(self.palette(line, DIM) + "\n")
        elif self.fence is not None:
            self.write(self.palette.code(line, self.fence) + "\n")
        else:
            self.write(line + "\n")
        self.at_line_start = True

    def end(self) -> None:
        """Flush what is held (an unterminated line) and close the paragraph."""
        if self.buffer:
            self._line(self.buffer)
            self.buffer = ""
        elif not self.at_line_start:
            self.write("\n")
        self.at_line_start = True
        self.fence = None


class Printer:
    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.p = Palette(color)
        self.stream = FenceStream(self._write, self.p)
        self.streaming = False
        self._calls: dict[str, tuple[str, str]] = {}
        self._live: dict[str, int] = {}

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def line(self, text: str = "") -> None:
        self._end_stream()
        self._write(text + "\n")

    def _end_stream(self) -> None:
        if self.streaming:
            self.stream.end()
            self.streaming = False

    def handle(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.type}", None)
        if handler is not None:
            handler(event)

    def on_assistant_text_delta(self, event: AssistantTextDelta) -> None:
        if not self.streaming:
            self._write("\n")
            self.streaming = True
        self.stream.feed(strip_terminal_controls(event.text))

    def on_assistant_message(self, event: AssistantMessage) -> None:
        if not self.streaming and event.text.strip():
            self.on_assistant_text_delta(AssistantTextDelta(event.text))
        self._end_stream()

    def on_model_retrying(self, event: ModelRetrying) -> None:
        self.stream.buffer = ""
        self.line(self.p(f"↻ {event.reason} — retrying in {event.delay_s:g}s; the partial reply above is void",
                         YELLOW))

    def on_model_waiting(self, event: ModelWaiting) -> None:
        self.line(self.p(f"… {event.message}", DIM))

    def on_tool_call_started(self, event: ToolCallStarted) -> None:
        self._calls[event.call_id] = (event.name, event.view)
        summary = strip_terminal_controls(clip(event.gist, 100))
        self.line(self.p("● ", CYAN) + self.p(event.name, BOLD) + "  " + self.p(summary, DIM))

    def on_tool_call_output_delta(self, event: ToolCallOutputDelta) -> None:
        shown = self._live.get(event.call_id, 0)
        if shown >= LIVE_LINES_CAP:
            return
        lines = strip_terminal_controls(event.text).splitlines()[: LIVE_LINES_CAP - shown]
        self._live[event.call_id] = shown + len(lines)
        for line in lines:
            self.line(self.p("  │ " + line, DIM))
        if self._live[event.call_id] >= LIVE_LINES_CAP:
            self.line(self.p("  │ … (more output; the model gets the capped whole)", DIM))

    def on_tool_call_finished(self, event: ToolCallFinished) -> None:
        name, view = self._calls.pop(event.call_id, (event.name, ViewKind.TEXT))
        mark = self.p("✓", GREEN) if event.ok else self.p("⊘" if event.error_type == "permission_denied" else "✗",
                                                           YELLOW if event.error_type == "permission_denied" else RED)
        self.line(f"  {mark} {name} {self.p(f'{event.duration_s:.1f}s', DIM)}")
        output = strip_terminal_controls(event.output)
        if event.ok and output.lstrip().startswith(("--- ", "diff --git")):
            self.line(self._indent(self.p.diff(output)))
        elif not event.ok:
            color = YELLOW if event.error_type == "permission_denied" else RED
            self.line(self._indent(self.p(_error_message(output)[:600], color)))
        elif view == ViewKind.COMMAND and event.call_id not in self._live and output.strip():
            self.line(self._indent(self.p(_head_tail(output), DIM)))
        self._live.pop(event.call_id, None)

    @staticmethod
    def _indent(text: str) -> str:
        return "\n".join("    " + line for line in text.splitlines())

    def on_subagent_started(self, event: SubagentStarted) -> None:
        self.line(self.p(f"  ↳ {event.agent}", MAGENTA, BOLD) + self.p(f"  {strip_terminal_controls(event.task)}",
                                                                         DIM))

    def on_subagent_event(self, event: SubagentEvent) -> None:
        inner = event.event
        if isinstance(inner, ToolCallStarted):
            summary = strip_terminal_controls(clip(inner.gist, 90))
            self.line(self.p(f"    · {inner.name} {summary}", DIM))

    def on_subagent_finished(self, event: SubagentFinished) -> None:
        self.line(self.p(f"  ↳ {event.agent} {event.status}", MAGENTA))
        self.line(self._indent(strip_terminal_controls(event.summary.strip())))

    def on_compaction_done(self, event: CompactionDone) -> None:
        self.line(self.p(f"⇣ compacted {event.turns_folded} turns: {event.tokens_before:,} → "
                         f"{event.tokens_after:,} tokens", CYAN))

    def on_files_changed_externally(self, event: FilesChangedExternally) -> None:
        paths = ", ".join(strip_terminal_controls(path) for path in event.paths[:8])
        self.line(self.p("• changed outside termagent: " + paths, DIM))

    def on_warning(self, event: Warning) -> None:
        self.line(self.p("⚠ " + strip_terminal_controls(event.message), YELLOW))

    def on_error(self, event: Error) -> None:
        self.line(self.p("✗ " + strip_terminal_controls(event.message), RED, BOLD))

    def on_turn_finished(self, event: TurnFinished) -> None:
        self._end_stream()
        if event.stop_reason == "interrupted":
            self.line(self.p("interrupted — the conversation is intact", YELLOW))


def _error_message(output: str) -> str:
    """The message of a structured tool error (`{"error": {...}}`), else the text itself."""
    import json

    try:
        error = json.loads(output).get("error", {})
        return str(error.get("message") or output).strip()
    except (ValueError, AttributeError):
        return output.strip()


def _head_tail(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= HEAD + TAIL + 1:
        return "\n".join(lines)
    return "\n".join(lines[:HEAD] + [f"… {len(lines) - HEAD - TAIL} lines hidden …"] + lines[-TAIL:])
