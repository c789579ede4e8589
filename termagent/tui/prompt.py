"""The prompt editor: multi-line, with history and slash / @path completion.

Enter sends. Ctrl+J (or Shift+Enter where the terminal reports it, or a trailing
backslash) inserts a newline. Up/Down walk the history from the first/last line.
Tab or Enter takes the highlighted completion; Esc closes the menu.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from termagent.frontend.completion import Completion, SlashCommand, WorkspaceFiles, completions
from termagent.frontend.input_history import InputHistory
from termagent.tui.render import safe

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"})


class CompletionMenu(OptionList):
    DEFAULT_CSS = """
    CompletionMenu {
        display: none;
        height: auto;
        max-height: 10;
        margin: 0 1;
        border: round $accent 60%;
        background: $surface;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.can_focus = False
        self.items: list[Completion] = []

    def show(self, items: list[Completion]) -> None:
        self.items = items
        self.clear_options()
        if not items:
            self.display = False
            return
        width = max(len(i.label) for i in items)
        self.add_options([Option(self._line(i, width)) for i in items])
        self.highlighted = 0
        self.display = True

    @staticmethod
    def _line(item: Completion, width: int) -> Text:
        """A Text, never markup: file names like `a[b].py` must show as they are."""
        line = Text(safe(item.label).ljust(width), no_wrap=True, overflow="ellipsis", end="")
        if item.help:
            line.append("  " + item.help, style="dim")
        return line

    def hide(self) -> None:
        self.items = []
        self.display = False

    @property
    def chosen(self) -> Completion | None:
        if not self.display or not self.items or self.highlighted is None:
            return None
        return self.items[self.highlighted]


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
        margin: 0 1;
        border: round $primary 70%;
        background: $surface;
        padding: 0 1;
    }
    PromptInput:focus { border: round $primary; }
    PromptInput.-busy { border: round $warning 70%; }
    PromptInput .text-area--cursor-line { background: transparent; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, history: InputHistory, files: WorkspaceFiles | None, menu: CompletionMenu, **kwargs) -> None:
        super().__init__(soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
                         highlight_cursor_line=False, **kwargs)
        self.prompt_history = history
        self.files = files
        self.menu = menu
        self.extra_commands: Callable[[], Sequence[SlashCommand]] = tuple  # the session's own, set by the app

    async def _on_key(self, event) -> None:
        handled = self._special_key(event.key)
        if handled:
            event.stop()
            event.prevent_default()

    def _special_key(self, key: str) -> bool:
        menu_open = self.menu.chosen is not None
        if key in NEWLINE_KEYS:
            self.insert("\n")
            return True
        if key in ("enter", "tab") and menu_open and self._accept(self.menu.chosen):
            return True
        if key == "enter":
            self._enter()
            return True
        if key == "escape" and menu_open:
            self.menu.hide()
            return True
        if key in ("up", "down") and menu_open:
            self.menu.action_cursor_up() if key == "up" else self.menu.action_cursor_down()
            return True
        if key == "up" and self.cursor_location[0] == 0:
            return self._recall(self.prompt_history.older(self.text))
        if key == "down" and self.cursor_location[0] == self.document.line_count - 1:
            return self._recall(self.prompt_history.newer())
        return False

    def _enter(self) -> None:
        row, column = self.cursor_location
        line = self.document.get_line(row)
        if column == len(line) and line.endswith("\\"):
            self.replace("\n", (row, column - 1), (row, column))
            return
        text = self.text
        if not text.strip():
            return
        self.prompt_history.add(text)
        self.clear()
        self.menu.hide()
        self.post_message(self.Submitted(text))

    def _recall(self, entry: str | None) -> bool:
        if entry is None:
            return False
        self.load_text(entry)
        self.move_cursor(self.document.end)
        self.menu.hide()
        return True

    def _accept(self, choice: Completion | None) -> bool:
        """Put the completion in; False when it is already there (so Enter sends)."""
        self.menu.hide()
        if choice is None:
            return False
        row, column = self.cursor_location
        start = (row, max(0, column - choice.length))
        if self.document.get_text_range(start, (row, column)) == choice.text.rstrip():
            return False
        self.replace(choice.text, start, (row, column))
        return True

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.refresh_completions()

    def refresh_completions(self) -> None:
        row, column = self.cursor_location
        before = self.document.get_text_range((row, 0), (row, column))
        if row > 0 and before.startswith("/"):
            before = " " + before  # slash commands only on the first line
        self.menu.show(completions(before, self.files, self.extra_commands()))
