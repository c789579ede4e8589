"""Conversation blocks: the person's prompts, the assistant's markdown, notices.

Model text goes through `safe` before the Markdown widget sees it, and the Markdown
widget parses markdown only (never Rich markup), so text cannot style or move the
terminal. Streaming appends are coalesced: while one append renders, new deltas pile
up and go in as one, so a fast stream never queues thousands of renders.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.widgets import Markdown, Static

from termagent.frontend.records import AssistantRecord, NoticeRecord, UserRecord
from termagent.tui.render import safe


class UserBlock(Static):
    DEFAULT_CSS = """
    UserBlock {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $primary;
        background: $boost;
        color: $text;
    }
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(Text(safe(text), end=""))

    def record(self) -> UserRecord:
        return UserRecord(self.text)


SPLIT_CHARS = 2000
APPEND_INTERVAL_S = 0.06


def inside_fence(text: str) -> bool:
    """True when `text` ends inside an open ``` or ~~~ code fence."""
    fences = sum(1 for line in text.splitlines() if line.lstrip().startswith(("```", "~~~")))
    return fences % 2 == 1


class AssistantBlock(Markdown):
    # Spacing comes from each top-level block's top margin only. :first-child/:last-child
    # rules would make Textual restyle every sibling on each mount, which turns a long
    # stream quadratic, so none are used here.
    DEFAULT_CSS = """
    AssistantBlock {
        margin: 0;
        padding: 0 1 0 2;
        background: transparent;
    }
    AssistantBlock.chat > MarkdownParagraph, AssistantBlock.chat > MarkdownH1,
    AssistantBlock.chat > MarkdownH2, AssistantBlock.chat > MarkdownH3, AssistantBlock.chat > MarkdownH4,
    AssistantBlock.chat > MarkdownH5, AssistantBlock.chat > MarkdownH6, AssistantBlock.chat > MarkdownBulletList,
    AssistantBlock.chat > MarkdownOrderedList, AssistantBlock.chat > MarkdownBlockQuote,
    AssistantBlock.chat > MarkdownTable, AssistantBlock.chat > MarkdownHorizontalRule { margin: 1 0 0 0; }
    AssistantBlock.chat > MarkdownFence { margin: 1 0 0 0; background: $boost; }
    AssistantBlock > MarkdownFence > Label { padding: 0 1; }
    """

    def __init__(self, text: str = "") -> None:
        super().__init__(safe(text), open_links=False, classes="chat")
        self._pending: list[str] = []
        self._pump: asyncio.Task[None] | None = None
        self.streamed = text

    def feed(self, piece: str) -> None:
        """Queue a streamed delta (already made safe); one task renders whatever piled up."""
        if not piece:
            return
        self.streamed += piece
        self._pending.append(piece)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        """Render what piled up, then rest a little so fast streams land in few renders."""
        while self._pending:
            chunk = "".join(self._pending)
            self._pending.clear()
            await self.append(chunk)
            await asyncio.sleep(APPEND_INTERVAL_S)

    def overflow(self, piece: str, limit: int = SPLIT_CHARS) -> int | None:
        """Where to cut `piece` so this block ends (at a paragraph break outside code
        fences) once it holds `limit` characters; None to keep going.

        A long answer becomes a run of short Markdown widgets: each append then re-parses
        and lays out one small block instead of a document of thousands."""
        if len(self.streamed) + len(piece) < limit:
            return None
        position = piece.find("\n\n", max(0, limit - len(self.streamed)))
        while position >= 0:
            if not inside_fence(self.streamed + piece[:position]):
                return position + 2
            position = piece.find("\n\n", position + 2)
        return None

    async def settled(self) -> None:
        """Wait until every queued delta is on screen (tests and benchmarks)."""
        while self._pump is not None and not self._pump.done():
            await self._pump

    def record(self) -> AssistantRecord:
        return AssistantRecord(self.streamed)


NOTICE_ICONS = {"info": "•", "warning": "⚠", "error": "✗", "retry": "↻", "compaction": "⇣", "help": "?"}


class NoticeBlock(Static):
    DEFAULT_CSS = """
    NoticeBlock {
        margin: 1 0 0 0;
        padding: 0 1;
        color: $text-muted;
    }
    NoticeBlock.-warning { color: $text-warning; }
    NoticeBlock.-error { color: $text-error; border-left: thick $error; }
    NoticeBlock.-retry { color: $text-warning; }
    NoticeBlock.-compaction { color: $text-accent; }
    NoticeBlock.-help { color: $text; border-left: thick $accent; background: $boost; }
    """

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text
        body = Text(f"{NOTICE_ICONS.get(kind, '•')} ", end="")
        body.append(safe(text))
        super().__init__(body, classes=f"-{kind}")

    def record(self) -> NoticeRecord:
        return NoticeRecord(self.kind, self.text)
