"""`termagent --task`: one task, no person, an honest exit code.

Output formats: `text` prints the final answer; `json` one object with the design's
fields; `stream-json` every event as a JSON line and the same result object last.
Anything that would ask a person is denied, the model is told, and the run cannot
exit 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, TextIO

from termagent.core.door import SessionLike
from termagent.frontend.slash import expand_typed
from termagent.terminal_text import strip_terminal_controls
from termagent.protocol import (
    LIMIT_STOPS,
    DenialView,
    AssistantTextDelta,
    Error,
    Event,
    ModelRetrying,
    ModelWaiting,
    StopReason,
    SubagentFinished,
    Warning,
)

from termagent.exits import code_for_reason, exit_reason_for


@dataclass(frozen=True)
class HeadlessResult:
    exit_code: int
    exit_reason: str
    payload: dict[str, Any]


def exit_for(stop_reason: str, denied: bool) -> tuple[int, str]:
    reason = exit_reason_for(stop_reason, denied)
    return code_for_reason(reason), str(reason)


class _Printer:
    """Renders events for one output format as they happen."""

    def __init__(self, output: str, out: TextIO, err: TextIO, on_closed_output: Callable[[], None]) -> None:
        self.output, self.out, self.err = output, out, err
        self.subagents: list[dict[str, Any]] = []
        self.on_closed_output = on_closed_output

    def __call__(self, event: Event) -> None:
        if isinstance(event, SubagentFinished):
            self.subagents.append({"agent_id": event.agent_id, "agent": event.agent, "status": event.status,
                                   "usage": event.usage, "cost_usd": event.cost_usd})
        try:
            self._render(event)
        except (BrokenPipeError, ValueError):  # the reader went away (`| head`): stop paying for output
            self.on_closed_output()

    def _render(self, event: Event) -> None:
        if self.output == "stream-json":
            self.out.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
            self.out.flush()
        elif isinstance(event, (Warning, Error)):
            kind = "warning" if isinstance(event, Warning) else "error"
            self.err.write(f"termagent: {kind}: {strip_terminal_controls(event.message)}\n")
        elif isinstance(event, ModelRetrying):
            self.err.write(f"termagent: model request failed ({strip_terminal_controls(event.reason)}); "
                           f"retry {event.attempt} in {event.delay_s:.1f}s\n")
        elif isinstance(event, ModelWaiting):
            self.err.write(f"termagent: {strip_terminal_controls(event.message)}\n")
        elif self.output == "text" and isinstance(event, AssistantTextDelta) and self.out.isatty():
            self.out.write(strip_terminal_controls(event.text, keep_sgr=False))
            self.out.flush()


async def run_headless(session: SessionLike, task: str, output: str, out: TextIO | None = None,
                       err: TextIO | None = None) -> HeadlessResult:
    """The streams default to sys.stdout/sys.stderr as they are when the run starts (not at import)."""
    out, err = out or sys.stdout, err or sys.stderr
    turn: asyncio.Future[Any] | None = None

    def stop_turn() -> None:
        if turn is not None:
            turn.cancel()

    printer = _Printer(output, out, err, on_closed_output=stop_turn)
    session.bus.listen(printer)
    if session.resumed:
        err.write(f"termagent: {strip_terminal_controls(session.describe_restore())}\n")
    reason = "internal_error"  # what the closing event says if anything below raises
    try:
        session.start()
        turn = asyncio.ensure_future(session.run_turn(expand_typed(session, task)))
        _cancel_on_sigint(turn)
        try:
            outcome = await turn
            stop, text, detail = outcome.stop_reason, outcome.text, outcome.detail
        except asyncio.CancelledError:
            stop, text, detail = StopReason.INTERRUPTED, "", "interrupted"
        code, reason = exit_for(stop, bool(session.status().denials))
        payload = _payload(session, text, reason, detail, printer.subagents)
    finally:
        await session.close(reason)  # the container goes even when something above failed
    try:
        if output == "text":
            _explain_stop(stop, detail, session.status().denials, err)
        _print_result(output, payload, text, out)
    except (BrokenPipeError, ValueError):
        pass
    return HeadlessResult(code, reason, payload)


def _explain_stop(stop: str, detail: str, denials: tuple[DenialView, ...], err: TextIO) -> None:
    """Text output shows only the answer; what went wrong goes to stderr, one line each,
    so "All done" with exit 4, or half a sentence with exit 1, is never all a person sees."""
    for denial in denials:
        err.write(f"termagent: denied: {strip_terminal_controls(denial.tool)} "
                  f"{strip_terminal_controls(denial.input)} ({denial.decided_by}: "
                  f"{strip_terminal_controls(denial.reason)})\n")
    if stop in LIMIT_STOPS:
        why = detail or ("the reply hit the model's output token limit" if stop == StopReason.MAX_TOKENS
                         else "a limit was reached")
        err.write(f"termagent: stopped early: {why}; the task did not finish\n")
    err.flush()


def early_failure(output: str, reason: str, message: str, out: TextIO | None = None) -> None:
    """A run that failed before its session opened (no key, config error) still owes
    json readers their object, with the reason, and stream-json readers the closing event."""
    out = out or sys.stdout
    if output not in ("json", "stream-json"):
        return
    payload: dict[str, Any] = {"result": "", "session_id": None, "exit_reason": reason, "detail": message, "turns": 0,
               "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                         "cache_creation_input_tokens": 0},
               "cost_usd": 0.0, "tool_calls": [], "subagents": [], "denials": []}
    try:
        if output == "stream-json":
            out.write(json.dumps({"type": "session_finished", "session_id": None, "exit_reason": reason}) + "\n")
        _print_result(output, payload, "", out)
    except (BrokenPipeError, ValueError):
        pass


def _cancel_on_sigint(task: "asyncio.Future[Any]") -> None:
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):
        pass


def _payload(session: SessionLike, text: str, reason: str, detail: str,
             subagents: list[dict[str, Any]]) -> dict[str, Any]:
    status = session.status()
    return {
        "result": text,
        "session_id": status.session_id,
        "exit_reason": reason,
        "detail": detail,
        "turns": status.turns,
        "usage": dataclasses.asdict(status.usage),
        "cost_usd": round(status.cost_usd, 6),
        "tool_calls": [dataclasses.asdict(call) for call in status.tool_calls],
        "subagents": subagents,
        "denials": [dataclasses.asdict(denial) for denial in status.denials],
        "memory_changed": list(status.memory_changed),
        **({"mcp_servers": list(status.mcp_servers)} if status.mcp_servers else {}),
        **({"jobs": [dataclasses.asdict(job) for job in status.jobs]} if status.jobs else {}),
    }


def _print_result(output: str, payload: dict[str, Any], text: str, out: TextIO) -> None:
    if output == "json":
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    elif output == "stream-json":
        out.write(json.dumps({"type": "result", **payload}, ensure_ascii=False) + "\n")
    elif out.isatty():
        out.write("\n")
    else:
        out.write(strip_terminal_controls(text) + ("\n" if text and not text.endswith("\n") else ""))
    out.flush()
