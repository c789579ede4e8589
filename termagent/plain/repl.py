"""The plain line-mode REPL: prompt-toolkit for input, printed lines for output.

For terminals (or people) that do not want the full-screen app. The prompt has the same
history file and completions as the TUI; a turn's events are printed as they arrive;
approvals are asked inline (y / a / n). Ctrl+C interrupts a running turn, twice quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import Any, Callable, Iterator, Sequence, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.history import History
from prompt_toolkit.key_binding import KeyBindings

from termagent.core.door import SessionLike
from termagent.plain.printer import BOLD, CYAN, DIM, RED, YELLOW, Printer
from termagent.terminal_text import strip_terminal_controls, visible
from termagent.protocol import (
    DECISION_ALLOW_ONCE,
    DECISION_ALLOW_SESSION,
    DECISION_DENY,
    ApprovalRequested,
    Interrupt,
    ResolveApproval,
    Shutdown,
    SubagentEvent,
    SubmitTurn,
    TurnFinished,
    ViewKind,
)
from termagent.frontend.slash import PLAIN_KEYS_HELP, SlashCommands, extension_commands
from termagent.frontend.completion import SlashCommand, WorkspaceFiles, completions
from termagent.frontend.input_history import InputHistory
from termagent.frontend.records import AssistantRecord, ToolRecord, UserRecord, records_from_messages

QUIT_WINDOW_S = 2.0
RESUME_SHOWN = 20
ANSWERS = {"y": DECISION_ALLOW_ONCE, "yes": DECISION_ALLOW_ONCE, "a": DECISION_ALLOW_SESSION,
           "always": DECISION_ALLOW_SESSION, "n": DECISION_DENY, "no": DECISION_DENY}


class SharedHistory(History):
    """prompt-toolkit's view of the history file the TUI writes too."""

    def __init__(self, history: InputHistory) -> None:
        self.shared = history
        super().__init__()

    def load_history_strings(self):
        return reversed(self.shared.entries)

    def store_string(self, string: str) -> None:
        self.shared.add(string)


class PromptCompleter(Completer):
    def __init__(self, files: WorkspaceFiles, extra: Callable[[], Sequence[SlashCommand]] = tuple) -> None:
        self.files = files
        self.extra = extra  # the session's own commands, asked each time: /clear swaps the session

    def get_completions(self, document, complete_event):
        for item in completions(document.text_before_cursor, self.files, self.extra()):
            yield Completion(item.text, start_position=-item.length, display=item.label, display_meta=item.help)


def _keys(files: WorkspaceFiles, extra: Callable[[], Sequence[SlashCommand]] = tuple) -> KeyBindings:
    """Enter sends; a trailing backslash or Ctrl+J (or Esc Enter) makes a new line instead.
    Tab puts in the only completion at once, or opens the menu when there are several."""
    keys = KeyBindings()

    @keys.add("tab")
    def _(event) -> None:
        buffer = event.current_buffer
        found = completions(buffer.document.text_before_cursor, files, extra())
        if len(found) == 1:  # decided here, not by the menu that typing may still be filling
            buffer.cancel_completion()
            buffer.delete_before_cursor(found[0].length)
            buffer.insert_text(found[0].text)
        elif buffer.complete_state:
            buffer.complete_next()
        elif found:
            buffer.start_completion(select_first=False)

    @keys.add("c-j")
    @keys.add("escape", "enter")
    def _(event) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("enter")
    def _(event) -> None:
        buffer = event.current_buffer
        if buffer.document.text_before_cursor.endswith("\\") and buffer.document.is_cursor_at_the_end_of_line:
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
        elif buffer.complete_state and buffer.complete_state.current_completion:
            buffer.apply_completion(buffer.complete_state.current_completion)
        else:
            buffer.validate_and_handle()

    return keys


class PlainRepl:
    keys_help = PLAIN_KEYS_HELP  # /help lists these keys, not the full-screen app's

    def __init__(self, session: SessionLike, reopen: Callable[[str | None], Any] | None = None, *,
                 out: TextIO | None = None, color: bool | None = None, pt_input=None, pt_output=None,
                 history: InputHistory | None = None) -> None:
        self.session = session
        self.reopen = reopen
        self.out = out or sys.stdout
        self.printer = Printer(self.out, self.out.isatty() if color is None else color)
        self.requests = 0
        self.exit_code = 0
        self._quit = False
        self._last_ctrl_c = 0.0
        self._serve: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue | None = None
        self._unlisten: Callable[[], None] | None = None
        self.commands = SlashCommands(self)
        files = WorkspaceFiles(session.workspace)
        extra = lambda: extension_commands(self.session)  # noqa: E731
        self.prompt: PromptSession[str] = PromptSession(history=SharedHistory(history or InputHistory()),
                                    key_bindings=_keys(files, extra), completer=PromptCompleter(files, extra),
                                    complete_while_typing=True, input=pt_input, output=pt_output)
        self.asker: PromptSession[str] = PromptSession(input=pt_input, output=pt_output)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        await self.attach(self.session)
        try:
            while not self._quit:
                await self._drain()
                text = await self._read_prompt()
                if text is None or not text.strip():
                    continue
                if text.strip().startswith("/") and "\n" not in text.strip():
                    prompt = await self.commands.run(text.strip())
                    if prompt:  # a custom command, a skill or an MCP prompt: its text is the turn
                        await self.run_turn(prompt)
                    continue
                await self.run_turn(text)
        finally:
            await self.detach()
        return self.exit_code

    async def attach(self, session: SessionLike) -> None:
        self.session = session
        queue: asyncio.Queue = asyncio.Queue()
        self._queue = queue
        self._unlisten = session.bus.listen(queue.put_nowait)
        self._serve = asyncio.get_running_loop().create_task(session.serve())
        if session.resumed:
            self._show_history()
        session.start()
        p = self.printer.p
        status = session.status()
        self.printer.line(p("termagent", BOLD) + p(f" · {'resumed' if session.resumed else 'new session'} in "
                                                  f"{session.workspace.name} · {status.model} · "
                                                  f"mode {status.mode} · /help · ctrl+c interrupts",
                                                  DIM))

    async def detach(self) -> None:
        serve, self._serve = self._serve, None
        if serve is None:
            return
        self.session.submit(Shutdown())
        try:
            await asyncio.wait_for(serve, timeout=30)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - leaving must not hang on a broken part
            serve.cancel()
        if self._unlisten is not None:
            self._unlisten()

    async def _read_prompt(self) -> str | None:
        try:
            return await self.prompt.prompt_async([("bold ansicyan", "❯ ")])
        except KeyboardInterrupt:
            self._ctrl_c(busy=False)
            return None
        except EOFError:
            self._quit = True
            return None

    def _ctrl_c(self, busy: bool) -> None:
        now = time.monotonic()
        if now - self._last_ctrl_c < QUIT_WINDOW_S:
            self._quit, self.exit_code = True, 130
            if busy:
                self.session.submit(Interrupt())
            return
        self._last_ctrl_c = now
        if busy:
            self.session.submit(Interrupt())
        self.printer.line(self.printer.p("(ctrl+c again to quit)", DIM))

    # ------------------------------------------------------------ a turn

    async def run_turn(self, text: str) -> None:
        self.session.submit(SubmitTurn(text))
        loop = asyncio.get_running_loop()
        handled = _sigint(loop, lambda: self._ctrl_c(busy=True))
        try:
            with _enter_stays_enter():
                await self._until_turn_finished()
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
        self._status()

    async def _until_turn_finished(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            request = event.event if isinstance(event, SubagentEvent) else event
            if isinstance(request, ApprovalRequested):
                await self._approve(request, event.agent_id if isinstance(event, SubagentEvent) else "")
                continue
            if type(event).__name__ == "UsageUpdated" and getattr(event, "role", "") == "main":
                self.requests += 1
            self.printer.handle(event)
            if isinstance(event, TurnFinished):
                return

    async def _drain(self) -> None:
        assert self._queue is not None
        await asyncio.sleep(0)
        while not self._queue.empty():
            self.printer.handle(self._queue.get_nowait())

    async def _approve(self, request: ApprovalRequested, agent: str = "") -> None:
        p = self.printer.p
        detail, warnings = visible(request.detail or request.summary)
        asker = f" (asked by subagent {strip_terminal_controls(agent)})" if agent else ""
        self.printer.line(p(f"── Allow {request.tool}?{asker} ", YELLOW, BOLD) + (p("DESTRUCTIVE ", RED, BOLD)
                                                                                  if request.destructive else ""))
        if request.reason:
            self.printer.line(p(strip_terminal_controls(request.reason), DIM))
        body = p.diff(detail) if request.view == ViewKind.DIFF else (
            p.code(detail, "bash") if request.view == ViewKind.COMMAND else detail)
        self.printer.line(body)
        for warning in warnings:
            self.printer.line(p("⚠ " + warning, YELLOW, BOLD))
        choices = "[y]es once, [n]o" if request.destructive else "[y]es once, [a]lways this session, [n]o"
        decision, reason = await self._ask_decision(choices, request.destructive)
        self.session.submit(ResolveApproval(request.request_id, decision, reason))

    async def _ask_decision(self, choices: str, destructive: bool) -> tuple[str, str]:
        while True:
            try:
                answer = (await self.asker.prompt_async(f"{choices}: ")).strip().lower()
            except (KeyboardInterrupt, EOFError):
                return DECISION_DENY, "the person pressed ctrl+c"
            decision = ANSWERS.get(answer)
            if decision is None or (destructive and decision == DECISION_ALLOW_SESSION):
                continue
            if decision != DECISION_DENY:
                return decision, ""
            try:
                reason = await self.asker.prompt_async("why not? (optional, the model sees it): ")
            except (KeyboardInterrupt, EOFError):
                reason = ""
            return DECISION_DENY, reason.strip()

    def _status(self) -> None:
        status = self.session.status()
        usage = status.usage
        rate = usage.cache_hit_rate
        cache = f" · cache {rate:.0%}" if rate is not None else ""
        last, window = status.context_tokens, status.context_window
        ctx = f" · ctx {last / window:.0%}" if last and window else ""
        self.printer.line(self.printer.p(f"↑{usage.prompt_tokens:,} ↓{usage.output_tokens:,} tokens · "
                                         f"${status.cost_usd:.4f}{cache}{ctx} · mode {status.mode}", DIM))

    def _show_history(self) -> None:
        records = records_from_messages(self.session.messages(), self.session.describe_call)
        p = self.printer.p
        if len(records) > RESUME_SHOWN:
            self.printer.line(p(f"… {len(records) - RESUME_SHOWN} earlier items", DIM))
        for record in records[-RESUME_SHOWN:]:
            if isinstance(record, UserRecord):
                self.printer.line(p("❯ ", CYAN, BOLD) + strip_terminal_controls(record.text))
            elif isinstance(record, AssistantRecord):
                self.printer.line(strip_terminal_controls(record.text))
            elif isinstance(record, ToolRecord):
                self.printer.line(p(f"● {record.name}", CYAN) + "  " + p(
                    strip_terminal_controls(str(record.input.get("path") or record.input.get("command") or "")),
                    DIM))

    # ------------------------------------------------------------ the commands' host

    def notice(self, kind: str, text: str) -> None:
        style = {"warning": YELLOW, "error": RED}.get(kind, "")
        self.printer.line(self.printer.p(text, style) if style else text)

    def show_diff(self, text: str) -> None:
        self.printer.line(self.printer.p.diff(strip_terminal_controls(text)))

    async def switch_session(self, resume_id: str | None) -> None:
        assert self.reopen is not None
        try:
            fresh = self.reopen(resume_id)
        except Exception as exc:  # noqa: BLE001 - ResumeError and friends: say it, keep going
            self.notice("error", str(exc))
            return
        await self.detach()
        self.requests = 0
        await self.attach(fresh)

    async def quit_app(self, code: int = 0) -> None:
        self._quit, self.exit_code = True, code


def _sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> bool:
    """Ctrl+C during a turn interrupts it instead of killing the process (main thread only)."""
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _enter_stays_enter() -> Iterator[None]:
    """While a turn runs no prompt reads the keys, and the terminal's cooked mode turns a
    typed-ahead Enter (CR) into a newline (LF), which the prompt then takes as ctrl+j:
    `/clear⏎/sessions⏎` became one two-line message and the last Enter was lost. Turning
    off that translation for the turn keeps each Enter an Enter."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):  # not a terminal (tests, pipes)
        yield
        return
    changed = list(saved)
    changed[0] &= ~termios.ICRNL
    try:
        termios.tcsetattr(fd, termios.TCSANOW, changed)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
