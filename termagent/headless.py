"""`termagent --task`: one task, no person, an honest exit code.

Output formats: `text` prints the final answer; `json` one object with the design's
fields; `stream-json` every event as a JSON line and the same result object last.
Anything that would ask a person is denied, the model is told, and the run cannot
exit 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from termagent.core.loop import (
    STOP_API,
    STOP_END,
    STOP_ERROR,
    STOP_INTERRUPTED,
    STOP_LIMIT,
    STOP_MAX_TOKENS,
    STOP_SANDBOX,
)
from termagent.core.session import Session
from termagent.policy.display import strip_terminal_controls
from termagent.protocol import AssistantTextDelta, Error, Event, ModelRetrying, SubagentFinished, Warning

EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_DENIED = 4
EXIT_SANDBOX = 5
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class HeadlessResult:
    exit_code: int
    exit_reason: str
    payload: dict[str, Any]


def exit_for(stop_reason: str, denied: bool) -> tuple[int, str]:
    if stop_reason == STOP_INTERRUPTED:
        return EXIT_INTERRUPTED, "interrupted"
    if stop_reason == STOP_API:
        return EXIT_API, "api_error"
    if stop_reason == STOP_SANDBOX:
        return EXIT_SANDBOX, "sandbox_error"
    if stop_reason == STOP_ERROR:
        return EXIT_LIMIT, "internal_error"  # no code of its own in the contract: the task did not finish
    if stop_reason in (STOP_LIMIT, STOP_MAX_TOKENS):
        return EXIT_LIMIT, "limit"
    if denied:
        return EXIT_DENIED, "denied"
    return EXIT_OK, "done" if stop_reason == STOP_END else stop_reason


class _Printer:
    """Renders events for one output format as they happen."""

    def __init__(self, output: str, out: TextIO, err: TextIO) -> None:
        self.output, self.out, self.err = output, out, err
        self.subagents: list[dict[str, Any]] = []
        self.on_closed_output: Any = lambda: None

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
        elif self.output == "text" and isinstance(event, AssistantTextDelta) and self.out.isatty():
            self.out.write(strip_terminal_controls(event.text, keep_sgr=False))
            self.out.flush()


async def run_headless(session: Session, task: str, output: str, out: TextIO = sys.stdout,
                       err: TextIO = sys.stderr) -> HeadlessResult:
    printer = _Printer(output, out, err)
    session.bus.listen(printer)
    if session.resumed:
        from termagent.core.restore import describe_restore

        err.write(f"termagent: {describe_restore(session.loop.history, session.store, session.session_id)}\n")
    reason = "internal_error"  # what the closing event says if anything below raises
    try:
        session.start()
        turn = asyncio.ensure_future(session.run_turn(task))
        _cancel_on_sigint(turn)
        printer.on_closed_output = turn.cancel
        try:
            outcome = await turn
            stop, text, detail = outcome.stop_reason, outcome.text, outcome.detail
        except asyncio.CancelledError:
            stop, text, detail = STOP_INTERRUPTED, "", "interrupted"
        code, reason = exit_for(stop, bool(session.runner.denials))
        payload = _payload(session, text, reason, detail, printer.subagents)
    finally:
        await session.close(reason)  # the container goes even when something above failed
    try:
        _print_result(output, payload, text, out)
    except (BrokenPipeError, ValueError):
        pass
    return HeadlessResult(code, reason, payload)


def _cancel_on_sigint(task: "asyncio.Future[Any]") -> None:
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):
        pass


def _payload(session: Session, text: str, reason: str, detail: str, subagents: list[dict[str, Any]]) -> dict[str, Any]:
    budget = session.loop.budget
    runner = session.runner
    return {
        "result": text,
        "session_id": session.session_id,
        "exit_reason": reason,
        "detail": detail,
        "turns": budget.turns,
        "usage": budget.usage.to_dict(),
        "cost_usd": round(budget.cost_usd, 6),
        "tool_calls": [{"name": r.name, "ok": r.ok, "duration_s": r.duration_s} for r in runner.records],
        "subagents": subagents,
        "denials": [{"tool": d.tool, "input": d.gist, "reason": d.reason, "decided_by": d.decided_by}
                    for d in runner.denials],
        **({"mcp_servers": session.mcp.status()} if getattr(session, "mcp", None) is not None else {}),
    }


def _print_result(output: str, payload: dict[str, Any], text: str, out: TextIO) -> None:
    if output == "json":
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    elif output == "stream-json":
        out.write(json.dumps({"type": "result", **payload}, ensure_ascii=False) + "\n")
    elif out.isatty():
        out.write("\n")
    else:
        out.write(text + ("\n" if text and not text.endswith("\n") else ""))
    out.flush()
