"""The one-line status bar: model, permission mode, context, tokens, cost, cache, sandbox.

Cache hit rate is cache reads over all prompt tokens (fresh input + cache reads + cache
writes), the share of the prompt the provider did not have to process again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from termagent.tui.render import compact_number

SEPARATOR = Text(" │ ", style="dim")
MODE_STYLES = {"plan": "bold cyan", "ask": "bold green", "accept-edits": "bold yellow", "auto": "bold red"}


@dataclass(frozen=True)
class Stats:
    model: str = ""
    mode: str = "ask"
    sandbox: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost_usd: float = 0.0
    request_input_tokens: int = 0
    context_window: int = 0
    verbose: bool = False
    busy: str = ""  # the spinner frame while a turn runs

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read + self.cache_write

    @property
    def cache_rate(self) -> float | None:
        return self.cache_read / self.prompt_tokens if self.prompt_tokens else None

    @property
    def context_share(self) -> float | None:
        if not self.context_window or not self.request_input_tokens:
            return None
        return self.request_input_tokens / self.context_window


def status_line(stats: Stats, width: int = 200) -> Table:
    """Model and mode on the left; figures on the right, the least useful dropped first when narrow."""
    left = _left(stats, stats.model)
    pieces = _pieces(stats)
    while pieces and left.cell_len + _joined(pieces).cell_len + 2 > width:
        pieces.remove(min(pieces, key=lambda item: item[0]))
    if left.cell_len + _joined(pieces).cell_len + 2 > width:
        left = _left(stats, stats.model.removeprefix("claude-"))
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row(left, _joined(pieces))
    return grid


def _left(stats: Stats, model: str) -> Text:
    left = Text(no_wrap=True, overflow="ellipsis", end="")
    if stats.busy:
        left.append(f"{stats.busy} ", style="bold yellow")
    left.append(model, style="bold")
    left.append_text(SEPARATOR)
    left.append(stats.mode, style=MODE_STYLES.get(stats.mode, "bold"))
    left.append(" ⇧⇥", style="dim")
    if stats.verbose:
        left.append_text(SEPARATOR)
        left.append("verbose", style="italic")
    return left


def _pieces(stats: Stats) -> list[tuple[int, Text]]:
    """(priority, text): higher priorities survive a narrow terminal."""
    pieces: list[tuple[int, Text]] = []
    share = stats.context_share
    if share is not None:
        pieces.append((5, Text(f"ctx {share:.0%}", style="bold red" if share > 0.8 else "")))
    pieces.append((4, Text(f"↑{compact_number(stats.prompt_tokens)} ↓{compact_number(stats.output_tokens)}")))
    pieces.append((6, Text(f"${stats.cost_usd:.4f}" if stats.cost_usd < 1 else f"${stats.cost_usd:.2f}")))
    if stats.cache_rate is not None:
        pieces.append((2, Text(f"cache {stats.cache_rate:.0%}")))
    if stats.sandbox:
        unconfined = stats.sandbox in ("none", "host")
        pieces.append((7 if unconfined else 3, Text(f"sandbox {stats.sandbox}",
                                                     style="bold red" if unconfined else "")))
    return pieces


def _joined(pieces: list[tuple[int, Text]]) -> Text:
    out = Text(no_wrap=True, end="")
    for index, (_, piece) in enumerate(pieces):
        if index:
            out.append_text(SEPARATOR)
        out.append_text(piece)
    return out


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stats = Stats()

    def render(self) -> Table:
        return status_line(self.stats, self.content_size.width or 200)

    def set(self, **changes) -> None:
        self.stats = dataclasses.replace(self.stats, **changes)
        self.refresh()
