"""One termagent session behind one ACP session id: events out as updates, prompts in as ops.

Bus events may arrive from any thread, so they go through a queue that one pump task
drains in order; a prompt's response is sent only after every update of its turn, because
the pump itself completes the prompt when it reaches the turn's TurnFinished.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from acp import RequestError, helpers, schema

from termagent.acp import commands, permissions, translate
from termagent.acp.commands import ACP_COMMANDS
from termagent.acp.files import FS_TIMEOUT_S, FsChoice, WriteWitness, editor_path
from termagent.core.door import SessionLike
from termagent.frontend.slash import expand_typed
from termagent.protocol import (
    LIMIT_STOPS,
    ApprovalRequested,
    ApprovalResolved,
    AssistantTextDelta,
    CallView,
    Error,
    Event,
    ImageData,
    Interrupt,
    ModeChanged,
    ModelChanged,
    ModelRetrying,
    SetMode,
    SetModel,
    Shutdown,
    SubagentEvent,
    SubagentStarted,
    SubmitTurn,
    ToolCallFinished,
    ToolCallOutputDelta,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    UsageUpdated,
    Warning,
)

log = logging.getLogger("termagent.acp")


@dataclass
class _Call:
    """What the pump remembers about a running call to pair its updates."""

    acp_id: str
    view: CallView
    args: dict[str, Any]
    risk: str
    command: str = ""  # a command's full text, kept above its output (ACP content replaces, never appends)
    before: str | None = None
    output: list[str] = field(default_factory=list)


class SessionBridge:
    def __init__(self, session: SessionLike, client: Any, witness: WriteWitness, fs: FsChoice = FsChoice()) -> None:
        """`witness` must be the one the session's files were wrapped with: it is how an
        edit's diff learns what the write replaced."""
        self.session, self.client, self.fs = session, client, fs
        self._witness = witness
        self.id = session.session_id
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._calls: dict[str, _Call] = {}
        self._agents: dict[str, str] = {}  # subagent id -> the name its nested calls are shown under
        self._asks: dict[str, asyncio.Task[None]] = {}
        self._rejections = permissions.Rejections()
        self._turn: asyncio.Future[str] | None = None
        self._turn_started = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._unlisten = lambda: None

    # ------------------------------------------------------------ lifecycle

    async def start(self, replay: bool) -> None:
        """Listen, serve, replay a resumed transcript, then start: no event is missed or reordered."""
        self._unlisten = self.session.bus.listen(self._on_event)
        self._tasks.append(self._loop.create_task(self.session.serve()))
        if replay:
            for update in translate.replay_updates(self.session.messages(), self.session.describe_call,
                                                   self.session.workspace):
                await self._send(update)
        self.session.start()
        self._tasks.append(self._loop.create_task(self._pump()))

    async def close(self) -> None:
        self.session.submit(Shutdown())
        serve = self._tasks[0] if self._tasks else None
        if serve is not None:
            try:
                await asyncio.wait_for(asyncio.shield(serve), timeout=30)
            except (TimeoutError, Exception):  # noqa: BLE001 - closing must not hang on a broken part
                serve.cancel()
        self._unlisten()
        for task in [*self._tasks, *self._asks.values()]:
            task.cancel()

    def _on_event(self, event: Event) -> None:
        """Runs where the event is emitted, before the call it announces runs: the one moment to
        tell the witness which call is about to write which file."""
        try:
            self._expect_write(event)
        except Exception:  # noqa: BLE001 - this runs inside the session's emit: a diff is not worth a call
            log.exception("could not note the write %s announces", event.type)
        if threading.get_ident() == self._loop_thread:  # the usual case: no wake-up write per event
            self._queue.put_nowait(event)
            return
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:  # the loop is gone: the process is exiting and nobody is listening
            pass

    def _expect_write(self, event: Event, chain: str = "") -> None:
        if isinstance(event, SubagentEvent):
            self._expect_write(event.event, f"{chain}/{event.agent_id}")
        elif isinstance(event, ToolCallStarted):
            view = self.session.describe_call(event.name, event.input)
            target = editor_path(self.session.workspace, view.path) if view.writes and view.path else None
            if target is not None:
                self._witness.expect(target, f"{chain}:{event.call_id}")

    async def announce_commands(self) -> None:
        """The slash commands, so an editor can complete them; termagent runs them as prompts."""
        from termagent.frontend.completion import SLASH_COMMANDS
        from termagent.frontend.slash import extension_commands

        own = [c for c in extension_commands(self.session) if not c.name.startswith("mcp__")]
        commands = [schema.AvailableCommand(
            name=c.name, description=c.help,
            input=schema.AvailableCommandInput(root=schema.UnstructuredCommandInput(hint=c.args)) if c.args else None)
            for c in [*(c for c in SLASH_COMMANDS if c.name in ACP_COMMANDS), *own]]
        await self._send(helpers.update_available_commands(commands))

    # ------------------------------------------------------------ operations

    async def prompt(self, text: str, images: tuple[ImageData, ...] = ()) -> str:
        """Run one turn; returns its termagent stop reason once all its updates are out."""
        if self._turn is not None:
            raise RequestError.invalid_request({"message": "a prompt is already running in this session"})
        command = commands.parse(text)
        if command is not None:
            reply, op = commands.run(self.session, *command)
            if op is not None:
                self.session.submit(op)
            await self._send(helpers.update_agent_message_text(reply))
            return "end_turn"
        self._turn = self._loop.create_future()
        self._turn_started = False
        try:
            self.session.submit(SubmitTurn(expand_typed(self.session, text) if text else "", images))
            return await self._turn
        finally:
            self._turn = None

    def cancel(self) -> None:
        self.session.submit(Interrupt())

    def set_mode(self, mode: str) -> None:
        if mode not in commands.MODES:
            raise RequestError.invalid_params({"modeId": f"unknown mode {mode!r}; one of {', '.join(commands.MODES)}"})
        self.session.submit(SetMode(mode))

    def set_model(self, model: str) -> None:
        self.session.submit(SetModel(model))

    # ------------------------------------------------------------ the pump

    async def _pump(self) -> None:
        held: Event | None = None
        while True:
            if held is None:
                event = await self._queue.get()
            else:
                event, held = held, None
            if isinstance(event, AssistantTextDelta):
                await asyncio.sleep(0)  # one turn of the loop, never a timer: what the stream has read joins in
                event, held = self._joined_text(event)
            try:
                await self._handle(event)
            except Exception:
                log.exception("could not forward %s", event.type)

    def _joined_text(self, first: AssistantTextDelta) -> tuple[AssistantTextDelta, Event | None]:
        """`first` and the deltas queued right behind it, as one: they piled up while the last
        update was being written, and a burst then costs the editor a few updates, not one per
        delta. Also returns the event that ended the run, already taken off the queue."""
        pieces = [first.text]
        following: Event | None = None
        while following is None and not self._queue.empty():
            queued = self._queue.get_nowait()
            if isinstance(queued, AssistantTextDelta):
                pieces.append(queued.text)
            else:
                following = queued
        return (first if len(pieces) == 1 else AssistantTextDelta("".join(pieces))), following

    async def _handle(self, event: Event, agent: str = "", chain: str = "") -> None:
        """`agent` is the name nested calls are shown under; `chain` the agent ids, as the witness knows them."""
        if isinstance(event, SubagentEvent):
            await self._handle(event.event, self._agents.get(event.agent_id, event.agent_id),
                               f"{chain}/{event.agent_id}")
        elif isinstance(event, SubagentStarted):
            self._agents[event.agent_id] = f"{agent}/{event.agent}" if agent else event.agent
        elif isinstance(event, (ToolCallStarted, ToolCallOutputDelta, ToolCallFinished)):
            await self._tool_event(event, agent, f"{chain}:{event.call_id}")
        elif isinstance(event, ApprovalRequested):
            self._approval(event, agent)
        elif isinstance(event, ApprovalResolved):
            task = self._asks.pop(event.request_id, None)
            if task is not None and event.decided_by != "person":
                task.cancel()  # withdrawn (the call was cancelled): the editor's dialog is moot
        elif not agent:
            await self._main_event(event)

    async def _main_event(self, event: Event) -> None:
        if isinstance(event, AssistantTextDelta):
            await self._send(helpers.update_agent_message_text(event.text))
        elif isinstance(event, Warning):  # a side note: shown with the agent's thoughts, logged for the editor
            log.warning("%s", event.message)
            await self._send(helpers.update_agent_thought_text(f"termagent warning: {event.message}"))
        elif isinstance(event, Error):
            await self._send(helpers.update_agent_message_text(f"\n\n> termagent error: {event.message}\n\n"))
        elif isinstance(event, ModelRetrying):
            await self._send(helpers.update_agent_thought_text(f"model request failed ({event.reason}); retrying"))
        elif isinstance(event, UsageUpdated) and event.role == "main" and event.context_window:
            await self._send(schema.UsageUpdate(
                session_update="usage_update", used=event.request_input_tokens, size=event.context_window,
                cost=schema.Cost(amount=round(event.cost_usd, 6), currency="USD")))
        elif isinstance(event, ModeChanged):
            await self._send(helpers.update_current_mode(event.mode))
        elif isinstance(event, ModelChanged) and event.role == "main":
            from termagent.acp.options import config_options

            await self._send(schema.ConfigOptionUpdate(session_update="config_option_update",
                                                       config_options=config_options(self.session)))
        elif isinstance(event, TurnStarted):
            self._turn_started = self._turn is not None
        elif (isinstance(event, TurnFinished) and self._turn is not None and self._turn_started
              and not self._turn.done()):
            if event.stop_reason in LIMIT_STOPS and event.detail:  # failures came as Error events already
                await self._send(helpers.update_agent_message_text(f"\n\n> turn stopped: {event.detail}\n"))
            self._turn.set_result(event.stop_reason)

    async def _tool_event(self, event: ToolCallStarted | ToolCallOutputDelta | ToolCallFinished, agent: str,
                          witnessed: str) -> None:
        key = f"{agent}:{event.call_id}" if agent else event.call_id
        if isinstance(event, ToolCallStarted):
            view = self.session.describe_call(event.name, event.input)
            call = _Call(key, view, event.input, event.risk, event.command)
            if view.writes:
                call.before = await self._text(view.path)
            self._calls[key] = call
            prefix = f"[{agent}] " if agent else ""
            await self._send(translate.start_update(event, view, self.session.workspace, key, prefix))
            return
        known = self._calls.get(key)
        if known is None:
            return
        call = known
        if isinstance(event, ToolCallOutputDelta):
            call.output.append(event.text)
            await self._send(helpers.update_tool_call(key, content=self._output(call, "".join(call.output))))
            return
        self._calls.pop(key, None)
        wrote, replaced = self._witness.replaced(witnessed)
        content = []
        if event.ok and call.view.writes:
            after = await self._text(call.view.path)
            before = replaced if wrote else call.before
            content = translate.diff_content(self.session.workspace, call.view.path, before, after)
        content = content or self._output(call, event.output)
        await self._send(helpers.update_tool_call(key, status="completed" if event.ok else "failed",
                                                  content=content, raw_output={"output": event.output}))

    @staticmethod
    def _output(call: _Call, text: str) -> list[Any]:
        header = translate.text_content(f"$ {call.command}") if call.command else []
        return header + translate.text_content(text)

    # ------------------------------------------------------------ approvals

    def _approval(self, event: ApprovalRequested, agent: str) -> None:
        if self._rejections.remembered(event.tool, event.path, event.detail) and not event.destructive:
            self.session.submit(permissions.answer_remembered(event.request_id))
            return
        self._asks[event.request_id] = self._loop.create_task(self._ask(event, agent))

    async def _ask(self, event: ApprovalRequested, agent: str) -> None:
        key = f"{agent}:{event.call_id}" if agent else event.call_id
        call = self._calls.get(key)
        options = permissions.permission_options(event.destructive)
        tool_call = schema.ToolCallUpdate(
            tool_call_id=key, title=(f"[{agent}] " if agent else "") + event.summary, status="pending",
            kind=translate.tool_kind(event.view, call.risk if call else "", call.view.touch if call else ""),
            content=self._approval_content(event, call),
            locations=translate.locations(self.session.workspace, (event.path,) if event.path else ()))
        try:
            response = await self.client.request_permission(session_id=self.id, tool_call=tool_call, options=options)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("permission request failed")
            response = None
        finally:
            self._asks.pop(event.request_id, None)
        op = permissions.answer(event.request_id, response, {o.option_id for o in options})
        if response is not None and getattr(response.outcome, "option_id", "") == permissions.REJECT_ALWAYS:
            self._rejections.remember(event.tool, event.path, event.detail)
        self.session.submit(op)

    def _approval_content(self, event: ApprovalRequested, call: _Call | None) -> list[Any]:
        if call is not None and call.view.writes:
            proposed = translate.proposed_text(call.view, call.args, call.before)
            diff = translate.diff_content(self.session.workspace, call.view.path, call.before, proposed)
            if diff:
                return diff
        return translate.text_content(event.detail or event.summary)

    async def _text(self, path: str) -> str | None:
        """A file's text for a diff: the editor's buffer when it offers reads (workspace files
        only: nothing outside is ever asked for), else the disk."""
        target = editor_path(self.session.workspace, path) if self.fs.read else None
        if target is None:
            return translate.read_text(self.session.workspace, path)
        try:
            response = await asyncio.wait_for(self.client.read_text_file(session_id=self.id, path=target),
                                              FS_TIMEOUT_S)
            return str(response.content)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - no buffer (a new file) or a failing editor: the disk then
            return translate.read_text(self.session.workspace, path)

    async def _send(self, update: Any) -> None:
        await self.client.session_update(session_id=self.id, update=update)
