"""The Textual app: lays out the view, pumps core events into it, owns the session.

The session's `serve()` runs as a task on Textual's own asyncio loop. Bus events are
queued and applied once per frame, with adjacent text deltas joined, so a fast stream
costs one render per frame rather than one per token.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Callable

from textual.app import App
from textual.binding import Binding

from termagent.config import MODES
from termagent.core.door import SessionLike
from termagent.protocol import ApprovalRequested, Event, Interrupt, ResolveApproval, SetMode, Shutdown, SubmitTurn
from termagent.tui.approval import Answer, ApprovalScreen
from termagent.frontend.slash import SlashCommands, extension_commands
from termagent.frontend.completion import WorkspaceFiles
from termagent.tui.conversation import ConversationView
from termagent.frontend.input_history import InputHistory
from termagent.tui.prompt import CompletionMenu, PromptInput
from termagent.frontend.records import records_from_messages
from termagent.tui.routing import EventRouter, coalesce
from termagent.tui.status import StatusBar

FRAME_S = 1 / 60
QUIT_WINDOW_S = 2.0
IDLE_HINT = "enter send · ctrl+j newline · / commands · @ files · esc interrupt"
Reopen = Callable[[str | None], Any]


class TermagentApp(App[int]):
    TITLE = "termagent"
    CSS = """
    TermagentApp > Screen { layout: vertical; }
    """
    BINDINGS = [
        Binding("escape", "interrupt", "interrupt", show=False),
        Binding("ctrl+c", "ctrl_c", "quit", priority=True, show=False),
        Binding("ctrl+q", "quit", "quit", priority=True, show=False),
        Binding("shift+tab", "cycle_mode", "mode", priority=True, show=False),
        Binding("ctrl+o", "toggle_verbose", "verbose", priority=True, show=False),
        Binding("pageup", "page(-1)", show=False, priority=True),
        Binding("pagedown", "page(1)", show=False, priority=True),
        Binding("ctrl+up", "earlier", show=False, priority=True),
        Binding("ctrl+end", "bottom", show=False, priority=True),
    ]

    def __init__(self, session: SessionLike, reopen: Reopen | None = None, *, timings: bool = True,
                 history: InputHistory | None = None, theme: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.reopen = reopen
        self.timings = timings
        self.history = history or InputHistory()
        self.requests = 0
        self.turns_finished = 0
        self.exit_code = 0
        if theme and theme in self.available_themes:
            self.theme = theme
        self._inbox: collections.deque[Event] = collections.deque()
        self._flush_pending = False
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._serve: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._last_ctrl_c = 0.0
        self._frame = 0
        self._approvals: collections.deque[Any] = collections.deque()
        self._open_approval: ApprovalScreen | None = None
        self._queued: list[str] = []  # prompts sent during a turn that have not started yet
        self.commands = SlashCommands(self)
        self.router = EventRouter(self)

    def compose(self):
        self.view = ConversationView(timings=self.timings, id="conversation")
        self.menu = CompletionMenu(id="completions")
        self.prompt = PromptInput(self.history, WorkspaceFiles(self.session.workspace), self.menu, id="prompt")
        self.prompt.extra_commands = lambda: extension_commands(self.session)
        self.status = StatusBar(id="status")
        yield self.view
        yield self.menu
        yield self.prompt
        yield self.status

    async def on_mount(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        self.prompt.border_subtitle = IDLE_HINT
        self.prompt.focus()
        self._spinner = self.set_interval(0.1, self._tick, pause=True)
        await self.attach(self.session)
        self.call_after_refresh(self._warm_sdk)

    @staticmethod
    def _warm_sdk() -> None:
        """Import the SDK in a background thread only after the first frame: the import
        holds the GIL for a few hundred milliseconds and would otherwise delay it."""
        from termagent.model.client import warm_import

        warm_import()

    # ------------------------------------------------------------ session lifecycle

    async def attach(self, session: SessionLike) -> None:
        """Listen first, then start: no event of the new session can be missed."""
        self.session = session
        self._unlisten = session.bus.listen(self._on_bus_event)
        self._serve = asyncio.get_running_loop().create_task(session.serve())
        status = session.status()
        self.status.set(model=status.model, mode=status.mode, request_input_tokens=0, context_window=0)
        self.router.usage_changed(main=None)
        if session.resumed:
            self.view.show_records(records_from_messages(session.messages(), session.describe_call))
            if session.state_document:
                self.view.notice("compaction", "earlier turns of this session were compacted into a summary")
        session.start()
        self._apply_inbox()

    async def detach(self, ui: bool = True) -> None:
        """Shut the session down (interrupting its turn, closing the sandbox) and stop listening.

        With `ui` False (the app is already tearing its widgets down) nothing more is shown."""
        session, serve = self.session, self._serve
        if serve is None:
            return
        self._serve = None
        session.submit(Shutdown())
        try:
            await asyncio.wait_for(asyncio.shield(serve), timeout=30)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - quitting must not hang on a broken part
            serve.cancel()
        if ui:
            self._apply_inbox()
            self.dismiss_approvals()
        self._inbox.clear()
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    async def on_unmount(self) -> None:
        """However the app ends (quit, crash, a test leaving run_test), the session is closed
        on this loop, so its sandbox is removed and its HTTP client closed where it lives."""
        await self.detach(ui=False)

    @property
    def detached(self) -> bool:
        return self._serve is None

    async def switch_session(self, resume_id: str | None) -> None:
        assert self.reopen is not None
        try:
            fresh = self.reopen(resume_id)
        except Exception as exc:  # noqa: BLE001 - ResumeError, ModelError, ConfigError: say it, keep going
            self.view.notice("error", str(exc))
            return
        await self.detach()
        self.view.clear()
        self.requests = 0
        await self.attach(fresh)

    async def quit_app(self, code: int = 0) -> None:
        self.exit_code = code
        self.prompt.disabled = True
        self.view.notice("info", "closing the session…")
        await self.detach()
        self.exit(code)

    # ------------------------------------------------------------ event pump

    def _on_bus_event(self, event: Event) -> None:
        """May be called from any thread; events are applied on the app's loop once per frame."""
        self._inbox.append(event)
        if not self._flush_pending and self._event_loop is not None:
            self._flush_pending = True
            self._event_loop.call_soon_threadsafe(self._event_loop.call_later, FRAME_S, self._apply_inbox)

    def _apply_inbox(self) -> None:
        self._flush_pending = False
        batch: list[Event] = []
        while self._inbox:
            batch.append(self._inbox.popleft())
        for event in coalesce(batch):
            self.router.handle(event)

    async def settle(self) -> None:
        """Apply every queued event and wait for markdown to render (tests, benchmarks)."""
        self._apply_inbox()
        await self.view.settled()

    # ------------------------------------------------------------ busy state

    def set_busy(self, busy: bool) -> None:
        self.prompt.set_class(busy, "-busy")
        if busy:
            self._spinner.resume()
        else:
            self._spinner.pause()
            self.status.set(busy="")
            self.prompt.border_title = ""
            self.prompt.border_subtitle = IDLE_HINT

    def _tick(self) -> None:
        self._frame += 1
        frame = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[self._frame % 10]
        self.prompt.border_title = f"{frame} working · esc to interrupt"
        self.status.set(busy=frame)
        self.prompt.border_subtitle = "prompts sent now wait their turn"
        self.view.tick(self._frame)

    # ------------------------------------------------------------ approvals

    def ask_approval(self, request: ApprovalRequested, agent: str = "") -> None:
        self._approvals.append((request, agent))
        self._next_approval()

    def _next_approval(self) -> None:
        if self._open_approval is not None or not self._approvals:
            return
        request, agent = self._approvals.popleft()
        screen = ApprovalScreen(request, agent)
        self._open_approval = screen

        def answered(answer: Answer | None) -> None:
            self._open_approval = None
            if answer is not None:
                self.session.submit(ResolveApproval(request.request_id, answer.decision, answer.reason))
            self._next_approval()

        self.push_screen(screen, answered)

    def approval_settled(self, request_id: str) -> None:
        """Answered or made moot elsewhere (the turn ended): drop its dialog."""
        self._approvals = collections.deque(pair for pair in self._approvals if pair[0].request_id != request_id)
        screen = self._open_approval
        if screen is not None and screen.request.request_id == request_id:
            self._open_approval = None
            self._close_dialog(screen)

    def dismiss_approvals(self) -> None:
        self._approvals.clear()
        if self._open_approval is not None:
            screen, self._open_approval = self._open_approval, None
            self._close_dialog(screen)

    def _close_dialog(self, screen: ApprovalScreen) -> None:
        """Close a dialog the person has not answered. An answered one is already off the
        stack while its callback waits to run, and popping it again would pop the app."""
        stack = self.screen_stack  # empty while the app tears down: then there is nothing to close
        if screen not in stack[1:]:
            return
        while stack[-1] is not screen:  # covered by another screen (a palette): close that first
            self.pop_screen()
            stack = self.screen_stack
        screen.dismiss(None)

    # ------------------------------------------------------------ input

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text.strip()
        if text.startswith("/") and "\n" not in text:
            # A worker, so a slow command (/compact asks the model) never blocks the keys.
            self.run_worker(self._command(text), group="commands")
            return
        if self.session.busy:
            self._queued.append(message.text)
            self.notify("queued: it is sent when the current turn ends", timeout=3)
        self.session.submit(SubmitTurn(message.text))

    async def _command(self, line: str) -> None:
        prompt = await self.commands.run(line)
        if prompt:  # a custom command, a skill or an MCP prompt: its text is the turn
            self.session.submit(SubmitTurn(prompt))

    def turn_began(self, text: str) -> None:
        """A queued prompt's turn started: it is no longer waiting."""
        if text in self._queued:
            self._queued.remove(text)

    def _interrupt_turn(self) -> None:
        """An interrupt also drops the turns still queued (the session forgets them), so
        what the person typed ahead goes back into the input instead of vanishing."""
        kept, self._queued = self._queued, []
        self.session.submit(Interrupt())
        if not kept:
            return
        typed = self.prompt.text
        self.prompt.load_text("\n".join(kept + ([typed] if typed.strip() else [])))
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()
        noun = "prompt is" if len(kept) == 1 else f"{len(kept)} prompts are"
        self.view.notice("info", f"interrupted: your queued {noun} back in the input, not sent (enter sends)")

    # ------------------------------------------------------------ commands' host

    def notice(self, kind: str, text: str) -> None:
        self.view.notice(kind, text)

    def show_diff(self, text: str) -> None:
        self.view.show_diff(text)

    def on_key(self, event) -> None:
        """Typing while a tool call or the conversation has focus goes to the prompt."""
        if (event.is_printable and event.character and len(self.screen_stack) == 1
                and self.focused is not self.prompt):
            self.prompt.focus()
            self.prompt.insert(event.character)
            event.stop()

    # ------------------------------------------------------------ actions

    def action_interrupt(self) -> None:
        if self.session.busy:
            self._interrupt_turn()

    async def action_ctrl_c(self) -> None:
        now = time.monotonic()
        if now - self._last_ctrl_c < QUIT_WINDOW_S:
            await self.quit_app(130)
            return
        self._last_ctrl_c = now
        if self.session.busy:
            self._interrupt_turn()
        elif self.prompt.text:
            self.prompt.clear()
        self.notify("press ctrl+c again to quit", timeout=QUIT_WINDOW_S)

    async def action_quit(self) -> None:
        await self.quit_app(0)

    def action_cycle_mode(self) -> None:
        status = self.session.status()
        modes = status.modes or MODES
        following = modes[(modes.index(status.mode) + 1) % len(modes)] if status.mode in modes else "ask"
        self.session.submit(SetMode(following))

    def action_toggle_verbose(self) -> None:
        verbose = not self.view.verbose
        self.view.set_verbose(verbose)
        self.status.set(verbose=verbose)

    def action_page(self, direction: int) -> None:
        if self._open_approval is not None:  # the dialog's long diff, not the conversation behind it
            self._open_approval.action_scroll(10 * direction)
            return
        if direction < 0:
            self.view.scroll_page_up(animate=False)
        else:
            self.view.scroll_page_down(animate=False)

    def action_earlier(self) -> None:
        self.view.load_earlier()
        self.view.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.view.scroll_end(animate=False)
        self.view.anchor()
