"""A tool call: a one-line header that expands to the highlighted result.

Enter (when focused) or a click cycles collapsed → head and tail → everything, so a
5,000-line test log costs one short render until someone asks for all of it. A
delegate call carries a nested panel with the subagent's own calls and its summary.
"""

from __future__ import annotations

import dataclasses

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from termagent.core.door import clip
from termagent.protocol import Event, ToolCallFinished, ToolCallStarted, ViewKind
import termagent.tui.render as render
from termagent.frontend.records import ChildCall, SubagentRecord, ToolRecord

COLLAPSED, CLIPPED, FULL = 0, 1, 2
LIVE_TAIL_LINES = 6
LIVE_BUFFER_CHARS = 16_000  # only the last lines show while running; the result has it all
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def status_icon(ok: bool | None, error_type: str | None, frame: int = 0) -> Text:
    if ok is None:
        return Text(SPINNER[frame % len(SPINNER)], style="bold yellow")
    if ok:
        return Text("✓", style="bold green")
    if error_type == "permission_denied":
        return Text("⊘", style="bold yellow")
    return Text("✗", style="bold red")


def header_line(record: ToolRecord, expanded: int, timings: bool, frame: int = 0, width: int = 200) -> Table:
    """'▸ ✓ bash  npm test ……… 1.2s': gist cropped to the line, status on the right."""
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    line.append("▾ " if expanded else "▸ ", style="dim")
    line.append_text(status_icon(record.ok, record.error_type, frame))
    line.append(f" {render.safe(record.name)}", style="bold")
    if record.input:
        line.append("  " + render.safe(clip(record.gist, width)), style="dim")
    right = Text(end="")
    if record.ok is False and record.error_type == "permission_denied":
        right.append("denied", style="yellow")
    elif record.ok is False:
        right.append(record.error_type or "failed", style="red")
    if timings and record.duration_s is not None:
        right.append(("  " if right else "") + render.duration(record.duration_s), style="dim")
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(line, right)
    return grid


def subagent_view(record: SubagentRecord, expanded: bool, timings: bool) -> RenderableType:
    """The child's activity: a count line, its calls when expanded, its summary at the end."""
    parts: list[RenderableType] = []
    head = Text(end="")
    head.append(f"↳ {record.agent}", style="bold magenta")
    head.append(f"  {len(record.calls)} tool call{'s' if len(record.calls) != 1 else ''}", style="dim")
    head.append(f" · {record.status}", style="dim" if record.status == "ok" else "yellow")
    if timings and record.cost_usd:
        head.append(f" · ${record.cost_usd:.4f}", style="dim")
    parts.append(head)
    if expanded:
        for call in record.calls:
            line = Text("   ", no_wrap=True, overflow="ellipsis", end="")
            line.append_text(status_icon(call.ok, None))
            line.append(f" {call.name} ", style="bold")
            line.append(render.safe(call.gist), style="dim")
            parts.append(line)
    if record.summary:
        parts.append(Text(render.safe(record.summary.strip()), end=""))
    return render.stack(*parts)


class ToolCallBlock(Vertical, can_focus=True):
    DEFAULT_CSS = """
    ToolCallBlock {
        height: auto;
        margin: 0 0 0 1;
        padding: 0 1;
    }
    ToolCallBlock:focus { background: $boost; }
    ToolCallBlock > #header { height: 1; }
    ToolCallBlock > #live { color: $text-muted; padding-left: 4; }
    ToolCallBlock > #body {
        margin: 0 0 0 2;
        padding: 0 1;
        border-left: solid $primary 50%;
    }
    ToolCallBlock > #subagent { margin: 0 0 0 2; padding: 0 1; border-left: solid $accent; }
    ToolCallBlock.-first { margin: 1 0 0 1; }
    """
    BINDINGS = [Binding("enter,space", "cycle", "expand", show=False)]

    def __init__(self, record: ToolRecord, expanded: int = COLLAPSED, timings: bool = True) -> None:
        super().__init__()
        self.state = record
        self.expanded = expanded
        self.timings = timings
        self._live: list[str] = []
        self._live_chars = 0
        self._frame = 0
        self._ready = False

    @classmethod
    def started(cls, event: ToolCallStarted, expanded: int, timings: bool) -> "ToolCallBlock":
        return cls(ToolRecord(event.call_id, event.name, dict(event.input), gist=event.gist, view=event.view,
                              path=event.path, command=event.command), expanded, timings)

    def compose(self):
        yield Static(id="header")
        yield Static(id="live")
        yield Static(id="subagent")
        yield Static(id="body")

    def on_mount(self) -> None:
        self._ready = True
        self.watch(self.app, "theme", lambda _: self.refresh_view(), init=False)
        self.refresh_view()

    def record(self) -> ToolRecord:
        return self.state

    # ------------------------------------------------------------ events

    def add_output(self, text: str) -> None:
        """Streamed output of a running command: only its last lines are shown meanwhile."""
        self._live.append(text)
        self._live_chars += len(text)
        if self._live_chars > LIVE_BUFFER_CHARS:
            joined = "".join(self._live)[-LIVE_BUFFER_CHARS // 2:]
            self._live, self._live_chars = [joined], len(joined)
        self.refresh_view()

    def finish(self, event: ToolCallFinished) -> None:
        self.state = dataclasses.replace(self.state, ok=event.ok, output=event.output, duration_s=event.duration_s,
                                         error_type=event.error_type)
        self._live, self._live_chars = [], 0
        self.refresh_view()

    def cut_off(self, reason: str) -> None:
        """The turn ended (interrupt, error) while this call ran: it never reported back."""
        self.state = dataclasses.replace(self.state, ok=False, error_type=reason)
        self._live, self._live_chars = [], 0
        self.refresh_view()

    def subagent_changed(self, record: SubagentRecord) -> None:
        self.state = dataclasses.replace(self.state, subagent=record)
        self.refresh_view()

    def tick(self, frame: int) -> None:
        """Spinner frame. The app's timer ticks every running block, including one whose
        mount is still pending or that was just removed; only a composed one is drawn."""
        self._frame = frame
        if self.state.ok is None and self._ready and self.is_attached:
            self.query_one("#header", Static).update(header_line(self.state, self.expanded, self.timings, frame))

    # ------------------------------------------------------------ display

    def action_cycle(self) -> None:
        self.set_expanded((self.expanded + 1) % 3 if self._has_more() else (COLLAPSED if self.expanded else CLIPPED))

    def on_click(self) -> None:
        self.action_cycle()

    def set_expanded(self, level: int) -> None:
        self.expanded = level
        self.refresh_view()

    def _has_more(self) -> bool:
        return render.head_tail(self.state.output).hidden > 0

    def refresh_view(self) -> None:
        if not self._ready:
            return
        self.query_one("#header", Static).update(header_line(self.state, self.expanded, self.timings, self._frame))
        live = self.query_one("#live", Static)
        live.display = bool(self._live) and self.state.ok is None
        if live.display:
            tail = "".join(self._live).splitlines()[-LIVE_TAIL_LINES:]
            live.update(render.plain("\n".join(tail)))
        panel = self.query_one("#subagent", Static)
        panel.display = self.state.subagent is not None
        if self.state.subagent is not None:
            panel.update(subagent_view(self.state.subagent, self.expanded > COLLAPSED, self.timings))
        body = self.query_one("#body", Static)
        body.display = self.expanded > COLLAPSED and self._body_wanted()
        if body.display:
            body.update(self._body())

    def _body_wanted(self) -> bool:
        if self.state.view == ViewKind.AGENT and self.state.subagent is not None:
            return False
        return bool(self.state.output) or bool(self.state.command)

    def _body(self) -> RenderableType:
        dark = self.app.current_theme.dark
        parts: list[RenderableType] = []
        if self.state.command:
            parts.append(Text("$ ", style="bold", end="") + render.highlighted(self.state.command, "bash", dark))
        if self.state.output:
            body, _ = render.clipped_output(self.state, self.state.output, dark, self.expanded == FULL)
            parts.append(body)
        return render.stack(*parts)


def fold_child_event(record: SubagentRecord, event: Event) -> SubagentRecord:
    """Fold one of the child's events into its record (only tool calls are kept)."""
    if isinstance(event, ToolCallStarted):
        call = ChildCall(event.call_id, event.name, clip(event.gist, 100))
        return dataclasses.replace(record, calls=record.calls + (call,))
    if isinstance(event, ToolCallFinished):
        calls = tuple(dataclasses.replace(c, ok=event.ok, duration_s=event.duration_s) if c.call_id == event.call_id
                      else c for c in record.calls)
        return dataclasses.replace(record, calls=calls)
    return record
