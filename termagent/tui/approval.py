"""The approval dialog: exactly what will run, with nothing hidden, and three answers.

The command or diff is shown in full (wrapped, scrollable, never cut), with control,
bidi and zero-width characters made visible by `terminal_text.visible`, so what the
person approves is what runs. Keyboard only: y allows once, a allows for the session
(not offered for destructive actions), n denies and asks for an optional reason, Esc
denies without one.
"""

from __future__ import annotations

import time

from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from termagent.terminal_text import visible
from termagent.protocol import (
    DECISION_ALLOW_ONCE,
    DECISION_ALLOW_SESSION,
    DECISION_DENY,
    ApprovalRequested,
    ViewKind,
)
import termagent.tui.render as render


@dataclass(frozen=True)
class Answer:
    decision: str
    reason: str = ""


def detail_view(request: ApprovalRequested, dark: bool) -> tuple[RenderableType, list[str]]:
    """The full detail, escaped, highlighted as a command, a diff or a file to write."""
    shown, warnings = visible(request.detail or request.summary)
    if request.view == ViewKind.COMMAND:
        return render.highlighted(shown, "bash", dark), warnings
    if request.view == ViewKind.DIFF or render.looks_like_diff(shown):
        return render.diff(shown, dark), warnings
    if request.view == ViewKind.FILE and request.path and "\n" in shown:
        first, body = shown.split("\n", 1)
        title = Text(first + "\n", style="bold")
        return title + render.highlighted(body, render.lexer_for_path(request.path), dark), warnings
    return Text(shown, end=""), warnings


ARM_DELAY_S = 0.5  # y/a are ignored this long after the dialog opens; deny always works


class ApprovalScreen(ModalScreen[Answer]):
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; background: $background 60%; }
    ApprovalScreen > #dialog {
        width: 90%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        border: round $warning;
        border-title-color: $warning;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    ApprovalScreen.-destructive > #dialog { border: heavy $error; border-title-color: $error; }
    ApprovalScreen #reason { color: $text-muted; }
    ApprovalScreen #danger { color: $text-error; text-style: bold; }
    ApprovalScreen #warnings { color: $text-warning; text-style: bold; }
    ApprovalScreen #detail {
        height: auto;
        max-height: 20;
        margin: 1 0;
        padding: 0 1;
        background: $background;
        scrollbar-size-vertical: 1;
    }
    ApprovalScreen #choices { height: 1; }
    ApprovalScreen #choices > Static { width: auto; margin-right: 3; }
    ApprovalScreen .key { text-style: bold; }
    ApprovalScreen #deny-reason { display: none; margin-top: 1; }
    ApprovalScreen.-denying #deny-reason { display: block; }
    """
    BINDINGS = [
        Binding("y", "answer('allow_once')", "allow once"),
        Binding("a", "answer('allow_session')", "allow for session"),
        Binding("n", "deny", "deny"),
        Binding("escape", "answer('deny')", "deny", priority=True),
        Binding("up", "scroll(-1)", show=False),
        Binding("down", "scroll(1)", show=False),
        Binding("pageup", "scroll(-10)", show=False),
        Binding("pagedown", "scroll(10)", show=False),
    ]

    def __init__(self, request: ApprovalRequested, agent: str = "") -> None:
        super().__init__(classes="-destructive" if request.destructive else "")
        self.request = request
        self.agent = agent
        self.opened_at = time.monotonic()

    def compose(self):
        request = self.request
        detail, warnings = detail_view(request, self.app.current_theme.dark)
        dialog = Vertical(id="dialog")
        dialog.border_title = f"Allow {escape(render.safe(request.tool))}?"
        if self.agent:
            dialog.border_subtitle = f"asked by subagent {escape(render.safe(self.agent))}"
        with dialog:
            if request.destructive:
                yield Static("⚠ destructive: this cannot be undone easily", id="danger")
            if request.reason:
                yield Static(Text(render.safe(request.reason), end=""), id="reason")
            with VerticalScroll(id="detail"):
                yield Static(detail)
            if warnings:
                yield Static(Text("⚠ " + "; ".join(warnings), end=""), id="warnings")
            with Horizontal(id="choices"):
                yield Static(self._choice("y", "allow once"))
                if not request.destructive:
                    yield Static(self._choice("a", "allow for this session"))
                yield Static(self._choice("n", "deny…"))
                yield Static(self._choice("esc", "deny"))
            yield Input(placeholder="why not? (optional, the model sees it) · enter to deny", id="deny-reason")

    @staticmethod
    def _choice(key: str, label: str) -> Text:
        text = Text(end="")
        text.append(f"[{key}]", style="bold reverse")
        text.append(f" {label}")
        return text

    def action_answer(self, decision: str) -> None:
        if decision != DECISION_DENY and time.monotonic() - self.opened_at < ARM_DELAY_S:
            return  # a key typed for the prompt must not approve a dialog that just popped up
        if decision == DECISION_ALLOW_SESSION and self.request.destructive:
            return
        if decision not in (DECISION_ALLOW_ONCE, DECISION_ALLOW_SESSION, DECISION_DENY):
            return
        self.dismiss(Answer(decision))

    def action_deny(self) -> None:
        self.add_class("-denying")
        self.query_one("#deny-reason", Input).focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#detail", VerticalScroll).scroll_relative(y=lines, animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(Answer(DECISION_DENY, event.value.strip()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While typing a reason, letters are text, not answers."""
        if self.has_class("-denying") and action in ("answer", "deny"):
            return parameters == ("deny",) or None
        return True
