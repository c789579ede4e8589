"""The ReAct loop: ask the model, run its tool calls, feed the results back, repeat.

One loop serves the main agent and every subagent; what differs (prompt, tools, role,
budget) is handed in. The loop ends a turn on end_turn, a budget cap, an API failure
or an interrupt, and in each case leaves a history the API will accept next time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from termagent.core.budget import Budget
from termagent.core.history import History
from termagent.core.request_hooks import RequestHook
from termagent.core.tool_runner import ToolRunner
from termagent.model.client import ModelClient, RetryNotice, WaitNotice
from termagent.model.pricing import cost_usd
from termagent.model.reply import ModelReply, ToolCall
from termagent.model.request import StablePrefix
from termagent.model.retry import ModelError
from termagent.protocol import (
    AssistantMessage,
    AssistantTextDelta,
    Error,
    ImageData,
    Event,
    ModelRequestStarted,
    ModelRetrying,
    ModelWaiting,
    StopReason,
    TurnFinished,
    TurnStarted,
    UsageUpdated,
)

STOP_END = StopReason.END_TURN
STOP_API = StopReason.API_ERROR
STOP_INTERRUPTED = StopReason.INTERRUPTED
STOP_MAX_TOKENS = StopReason.MAX_TOKENS
STOP_SANDBOX = StopReason.SANDBOX_ERROR
STOP_ERROR = StopReason.ERROR


class HaltTurn(Exception):
    """Raised by a before-request hook to end the turn (the sandbox died, say)."""

    def __init__(self, stop_reason: str, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.stop_reason = stop_reason
        self.message = message
        self.kind = kind


class UsageSink(Protocol):
    def record_usage(self, session_id: str, role: str, model: str, usage: dict[str, int], cost: float) -> None: ...


@dataclass(frozen=True)
class TurnOutcome:
    stop_reason: str
    text: str
    detail: str = ""


@dataclass
class AgentLoop:
    model: ModelClient
    role: str
    prefix: StablePrefix
    history: History
    runner: ToolRunner
    budget: Budget
    emit: Callable[[Event], None]
    usage_sink: UsageSink | None = None
    context_window: int = 200_000
    before_request: list[RequestHook] = field(default_factory=list)
    # Stop hooks: the text to go on with when the model would end the turn, or "" to end it
    on_stop: Callable[["AgentLoop", str], Awaitable[str]] | None = None
    last_prompt_tokens: int = 0
    turn_number: int = 0

    @property
    def session_id(self) -> str:
        return self.history.session_id

    async def run_turn(self, user_text: str, images: tuple[ImageData, ...] = ()) -> TurnOutcome:
        self.turn_number += 1
        self.budget.start_task()
        self.emit(TurnStarted(self.turn_number, user_text))
        self.history.add_user_text(user_text, tuple(image.to_block() for image in images))
        try:
            outcome = await self._steps()
        except asyncio.CancelledError:
            self.emit(TurnFinished(STOP_INTERRUPTED, ""))
            raise
        except ModelError as exc:
            self.emit(Error(str(exc), "api"))
            outcome = TurnOutcome(STOP_API, "", str(exc))
        except HaltTurn as exc:
            self.emit(Error(exc.message, exc.kind))
            outcome = TurnOutcome(exc.stop_reason, "", exc.message)
        except Exception as exc:  # a bug somewhere below: end the turn, keep the session usable
            message = f"internal error: {type(exc).__name__}: {exc}"
            self.emit(Error(message, "internal"))
            outcome = TurnOutcome(STOP_ERROR, "", message)
        self.emit(TurnFinished(outcome.stop_reason, outcome.text, outcome.detail))
        return outcome

    async def _steps(self) -> TurnOutcome:
        text = ""
        while True:
            hit = self.budget.exceeded()
            if hit:
                return TurnOutcome(hit.stop_reason, text, hit.message)
            for hook in self.before_request:
                await hook(self)
            reply = await self._ask_model()
            text = reply.text or text
            if not reply.tool_calls:
                stop = STOP_MAX_TOKENS if reply.stop_reason == "max_tokens" else STOP_END
                again = await self.on_stop(self, text) if stop == STOP_END and self.on_stop is not None else ""
                if not again:
                    return TurnOutcome(stop, text)
                self.history.add_user_text(again)
                continue
            await self._run_tools(reply.tool_calls)

    async def _ask_model(self) -> ModelReply:
        streamed: list[str] = []

        def on_text(piece: str) -> None:
            streamed.append(piece)
            self.emit(AssistantTextDelta(piece))

        def on_retry(notice: RetryNotice) -> None:
            streamed.clear()
            self.emit(ModelRetrying(notice.attempt, round(notice.delay_s, 2), notice.reason, notice.discarded_chars))

        def on_wait(notice: WaitNotice) -> None:
            self.emit(ModelWaiting(notice.waited_s, notice.remaining_s, notice.message))

        self.budget.add_turn()
        self.emit(ModelRequestStarted(self.role, self.model.model_for(self.role)))
        try:
            reply = await self.model.complete(self.role, self.prefix, self.history.for_request(), on_text, on_retry,
                                              on_wait=on_wait)
        except asyncio.CancelledError:
            self._keep_partial("".join(streamed))
            raise
        self.history.append(reply.assistant_message() if reply.content else _empty_reply())
        if reply.text:
            self.emit(AssistantMessage(reply.text))
        self.account(reply)
        return reply

    def _keep_partial(self, text: str) -> None:
        if text:
            note = text + "\n\n[interrupted by the user]"
            self.history.append({"role": "assistant", "content": [{"type": "text", "text": note}]})

    async def _run_tools(self, calls: tuple[ToolCall, ...]) -> None:
        try:
            results = await self.runner.run(calls)
        except BaseException:  # interrupted or broken: every call still gets its result
            self.history.append({"role": "user", "content": self.runner.results_so_far(calls)})
            raise
        self.history.append({"role": "user", "content": results})

    def account(self, reply: ModelReply, role: str = "") -> None:
        """The one place a request's usage and cost are counted, stored and announced.

        `role` names a request made for this loop by another part (compaction)."""
        role = role or self.role
        model = reply.model or self.model.model_for(role)
        cost = cost_usd(model, reply.usage)
        self.budget.add_usage(reply.usage, cost)
        if role == self.role:
            self.last_prompt_tokens = reply.usage.prompt_tokens
        if self.usage_sink is not None:
            self.usage_sink.record_usage(self.session_id, role, model, reply.usage.to_dict(), cost)
        self.emit(_usage_event(self.budget, reply, model, cost, self.context_window, role))


def _empty_reply() -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": "(no content)"}]}


def _usage_event(budget: Budget, reply: ModelReply, model: str, cost: float, window: int, role: str) -> UsageUpdated:
    total = budget.usage
    return UsageUpdated(
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        cache_read_input_tokens=total.cache_read_input_tokens,
        cache_creation_input_tokens=total.cache_creation_input_tokens,
        cost_usd=round(budget.cost_usd, 6),
        request_input_tokens=reply.usage.prompt_tokens,
        context_window=window,
        role=role,
        model=model,
        stop_reason=reply.stop_reason or "",
        request_usage=reply.usage.to_dict(),
        request_cost_usd=round(cost, 6),
    )
