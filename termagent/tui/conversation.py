"""The scrolling conversation: routes core events to blocks and keeps the widget count low.

At most MAX_MOUNTED blocks are mounted; older ones are folded into records and a marker
at the top offers to bring them back a page at a time. So a session of thousands of
messages (or a resumed one) costs the same to lay out as a short one.
"""

from __future__ import annotations

import dataclasses

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from termagent.protocol import (
    ModelRetrying,
    SubagentFinished,
    SubagentStarted,
    ToolCallFinished,
    ToolCallOutputDelta,
    ToolCallStarted,
)
from termagent.tui.blocks import AssistantBlock, NoticeBlock, UserBlock
from termagent.frontend.records import (
    AssistantRecord,
    Record,
    SubagentRecord,
    ToolRecord,
    UserRecord,
)
from termagent.tui.render import safe
from termagent.tui.toolcall import CLIPPED, COLLAPSED, ToolCallBlock, fold_child_event

MAX_MOUNTED = 150
PAGE = 50


class EarlierMarker(Static):
    """'▲ 1,950 earlier items — click or ctrl+up to show more'."""

    DEFAULT_CSS = """
    EarlierMarker {
        display: none;
        width: 100%;
        content-align: center middle;
        color: $text-muted;
        background: $boost;
    }
    EarlierMarker:hover { color: $text; }
    """

    def on_click(self) -> None:
        view = self.parent
        if isinstance(view, ConversationView):
            view.load_earlier()


class ConversationView(VerticalScroll):
    DEFAULT_CSS = """
    ConversationView {
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, timings: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.timings = timings
        self.verbose = False
        self.hidden: list[Record] = []
        self._assistant: AssistantBlock | None = None
        self._message: list[AssistantBlock] = []  # the blocks of the message being streamed
        self._message_text = ""
        self._tools: dict[str, ToolCallBlock] = {}
        self._agents: dict[str, ToolCallBlock] = {}

    def compose(self):
        yield EarlierMarker(id="earlier")

    def _maybe_anchor(self) -> None:
        """Stick to the newest output once there is more than fits (top-aligned until then)."""
        if not self.is_anchored and self.max_scroll_y > 0:
            self.anchor()

    # ------------------------------------------------------------ blocks

    @property
    def blocks(self) -> list[Widget]:
        return [child for child in self.children if not isinstance(child, EarlierMarker)]

    def block_for(self, record: Record) -> Widget:
        if isinstance(record, UserRecord):
            return UserBlock(record.text)
        if isinstance(record, AssistantRecord):
            return AssistantBlock(record.text)
        if isinstance(record, ToolRecord):
            return ToolCallBlock(record, CLIPPED if self.verbose else COLLAPSED, self.timings)
        return NoticeBlock(record.kind, record.text)

    def add(self, block: Widget) -> Widget:
        if isinstance(block, ToolCallBlock) and not isinstance(self._last(), ToolCallBlock):
            block.add_class("-first")
        self.mount(block)
        self._trim()
        self.call_after_refresh(self._maybe_anchor)
        return block

    def _last(self) -> Widget | None:
        blocks = self.blocks
        return blocks[-1] if blocks else None

    def show_records(self, records: list[Record], keep: int = PAGE) -> None:
        """A resumed history: the newest `keep` records mounted, the rest behind the marker."""
        self.hidden.extend(records[:-keep] if len(records) > keep else [])
        shown = records[-keep:]
        widgets = [self.block_for(r) for r in shown]
        self._mark_first(widgets)
        if widgets:
            self.mount_all(widgets)
        self._update_marker()
        self.call_after_refresh(self._maybe_anchor)

    def load_earlier(self, count: int = PAGE) -> None:
        if not self.hidden:
            return
        page, self.hidden = self.hidden[-count:], self.hidden[:-count]
        widgets = [self.block_for(r) for r in page]
        self._mark_first(widgets)
        self.mount_all(widgets, after=self.query_one(EarlierMarker))
        self._update_marker()

    @staticmethod
    def _mark_first(widgets: list[Widget]) -> None:
        previous: Widget | None = None
        for widget in widgets:
            if isinstance(widget, ToolCallBlock) and not isinstance(previous, ToolCallBlock):
                widget.add_class("-first")
            previous = widget

    def _trim(self) -> None:
        blocks = self.blocks
        excess = len(blocks) - MAX_MOUNTED
        if excess <= 0:
            return
        old = [b for b in blocks[:excess] if not self._active(b)]
        self.hidden.extend(b.record() for b in old)  # type: ignore[attr-defined]
        for block in old:
            self._tools = {k: v for k, v in self._tools.items() if v is not block}
        self.remove_children(old)
        self._update_marker()

    def _active(self, block: Widget) -> bool:
        if block is self._assistant or block in self._message:
            return True
        return isinstance(block, ToolCallBlock) and block.state.ok is None

    def _update_marker(self) -> None:
        marker = self.query_one(EarlierMarker)
        marker.display = bool(self.hidden)
        count = len(self.hidden)
        marker.update(f"▲ {count:,} earlier item{'s' if count != 1 else ''} · click or ctrl+up to show more")

    def clear(self) -> None:
        self.hidden.clear()
        self._end_message()
        self._tools.clear()
        self._agents.clear()
        self.remove_children(self.blocks)
        self._update_marker()
        self.anchor(False)

    def set_verbose(self, verbose: bool) -> None:
        self.verbose = verbose
        for block in self.query(ToolCallBlock):
            block.set_expanded(CLIPPED if verbose else COLLAPSED)

    def tick(self, frame: int) -> None:
        for block in self._tools.values():
            block.tick(frame)

    async def settled(self) -> None:
        for block in self.query(AssistantBlock):
            await block.settled()

    # ------------------------------------------------------------ events

    def user(self, text: str) -> None:
        self._end_message()
        self.add(UserBlock(text))

    def notice(self, kind: str, text: str) -> None:
        self.add(NoticeBlock(kind, text))

    def assistant_delta(self, text: str) -> None:
        text = safe(text)
        self._message_text += text
        while text:
            if self._assistant is None:
                self._assistant = AssistantBlock()
                self._message.append(self._assistant)
                self.add(self._assistant)
            cut = self._assistant.overflow(text)
            if cut is None:
                self._assistant.feed(text)
                break
            self._assistant.feed(text[:cut])
            self._assistant, text = None, text[cut:]
        if not self.is_anchored:
            self.call_after_refresh(self._maybe_anchor)

    def assistant_message(self, text: str) -> None:
        """The complete message: only drawn again if the stream did not already show it."""
        text = safe(text)
        if self._message_text.strip() != text.strip():
            self._drop_message()
            if text.strip():
                self.add(AssistantBlock(text))
        self._end_message()

    def _drop_message(self) -> None:
        for block in self._message:
            block.remove()
        self._end_message()

    def _end_message(self) -> None:
        self._assistant, self._message, self._message_text = None, [], ""

    def retrying(self, event: ModelRetrying) -> None:
        """The streamed text since the last request is void: drop it and say so."""
        self._drop_message()
        self.notice("retry", f"{event.reason} — retrying in {event.delay_s:g}s (attempt {event.attempt})")

    def tool_started(self, event: ToolCallStarted) -> None:
        self._end_message()
        block = ToolCallBlock.started(event, CLIPPED if self.verbose else COLLAPSED, self.timings)
        self._tools[event.call_id] = block
        self.add(block)

    def tool_output(self, event: ToolCallOutputDelta) -> None:
        block = self._tools.get(event.call_id)
        if block is not None:
            block.add_output(event.text)

    def tool_finished(self, event: ToolCallFinished) -> None:
        block = self._tools.get(event.call_id)
        if block is not None:
            block.finish(event)

    def subagent_started(self, event: SubagentStarted) -> None:
        block = self._tools.get(event.call_id)
        if block is None:
            block = ToolCallBlock(ToolRecord(event.call_id or event.agent_id, "delegate",
                                             {"agent": event.agent, "task": event.task}), timings=self.timings)
            self._tools[event.call_id or event.agent_id] = block
            self.add(block)
        self._agents[event.agent_id] = block
        block.subagent_changed(SubagentRecord(event.agent_id, event.agent, event.task))

    def subagent_event(self, agent_id: str, inner) -> None:
        block = self._agents.get(agent_id)
        if block is not None and block.state.subagent is not None:
            updated = fold_child_event(block.state.subagent, inner)
            if updated is not block.state.subagent:
                block.subagent_changed(updated)

    def subagent_finished(self, event: SubagentFinished) -> None:
        block = self._agents.pop(event.agent_id, None)
        if block is not None and block.state.subagent is not None:
            block.subagent_changed(dataclasses.replace(block.state.subagent, status=event.status,
                                                       summary=event.summary, cost_usd=event.cost_usd))

    def show_diff(self, text: str) -> None:
        record = ToolRecord("git-diff", "git diff", {}, ok=True, output=text)
        self.add(ToolCallBlock(record, CLIPPED, timings=False))

    def turn_finished(self, stop_reason: str) -> None:
        """Calls still running when a turn ends were cut off by an interrupt or a failure."""
        self._end_message()
        for block in self._tools.values():
            if block.state.ok is None:
                block.cut_off(stop_reason)
        self._tools.clear()
        self._agents.clear()
