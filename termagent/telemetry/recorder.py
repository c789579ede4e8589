"""Events in, spans and metric points out, following the OpenTelemetry GenAI conventions.

The span tree: `invoke_agent termagent` (the session) > `turn` > `chat MODEL` (a model
request) and `execute_tool NAME` (a tool call) > `invoke_agent AGENT` (a subagent, child
of its delegate call) > the child's own turns, requests and calls. Compaction is its own
span under the turn it happened in. Every event is handled in the task that emitted it,
so setting TRACEPARENT when a tool call starts hands that call's span to the sandbox
command it runs. Prompt, completion and tool input text are recorded only with
`log_content`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from termagent import tracecontext
from termagent.protocol import (
    ApprovalResolved,
    CompactionDone,
    Error,
    Event,
    ModelRequestStarted,
    ModelRetrying,
    SessionFinished,
    SessionStarted,
    SubagentEvent,
    SubagentFinished,
    SubagentStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    UsageUpdated,
    Warning,
)
from termagent.telemetry.instruments import Instruments

PROVIDER = "anthropic"
FAILED_STOPS = {"api_error", "error", "sandbox_error"}
MAIN = ""


@dataclass
class Scope:
    """One agent's open spans: the main agent's, or one subagent's."""

    root: Span
    agent: str
    turn: Span | None = None
    requests: dict[str, tuple[Span, float]] = field(default_factory=dict)  # role -> (span, started)
    tools: dict[str, Span] = field(default_factory=dict)  # call id -> span
    compaction: Span | None = None

    def parent(self) -> Span:
        return self.turn or self.root


class Recorder:
    def __init__(self, tracer: trace.Tracer, instruments: Instruments, log_content: bool = False,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.tracer = tracer
        self.metrics = instruments
        self.log_content = log_content
        self.clock = clock
        self.scopes: dict[str, Scope] = {}
        self.started_s = 0.0
        self._handlers: dict[type, Callable[[Scope, Any], None]] = {
            TurnStarted: self._turn_started, TurnFinished: self._turn_finished,
            ModelRequestStarted: self._request_started, UsageUpdated: self._request_finished,
            ModelRetrying: self._retrying, ToolCallStarted: self._tool_started,
            ToolCallFinished: self._tool_finished, ApprovalResolved: self._approval_resolved,
            SubagentStarted: self._subagent_started, SubagentFinished: self._subagent_finished,
            CompactionDone: self._compaction_done, Warning: self._warning, Error: self._error,
        }

    # ------------------------------------------------------------ dispatch

    def handle(self, event: Event, agent: str = MAIN) -> None:
        if isinstance(event, SubagentEvent):
            self.handle(event.event, event.agent_id)
        elif isinstance(event, SessionStarted):
            self._session_started(event)
        elif isinstance(event, SessionFinished):
            self._session_finished(event)
        else:
            scope = self.scopes.get(agent)
            handler = self._handlers.get(type(event))
            if scope is not None and handler is not None:
                handler(scope, event)

    def _start(self, name: str, parent: Span | Context | None, attributes: dict[str, Any],
               kind: SpanKind = SpanKind.INTERNAL) -> Span:
        context = trace.set_span_in_context(parent) if isinstance(parent, Span) else parent
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes,
                                      start_time=self.clock())

    def _end(self, span: Span, error: str = "") -> None:
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
            span.set_attribute("error.type", error)
        span.end(end_time=self.clock())

    # ------------------------------------------------------------ session and turns

    def _session_started(self, event: SessionStarted) -> None:
        self.started_s = time.monotonic()
        parent = _inherited_context()
        root = self._start("invoke_agent termagent", parent, {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "termagent",
            "gen_ai.conversation.id": event.session_id, "gen_ai.request.model": event.model,
            "gen_ai.provider.name": PROVIDER, "termagent.sandbox": event.sandbox, "termagent.resumed": event.resumed,
        })
        self.scopes[MAIN] = Scope(root, "termagent")

    def _session_finished(self, event: SessionFinished) -> None:
        scope = self.scopes.get(MAIN)
        if scope is None:
            return
        self.close_open_spans(keep_root=True)
        scope.root.set_attribute("termagent.exit_reason", event.exit_reason)
        failed = event.exit_reason in ("api_error", "sandbox_error", "internal_error")
        self._end(scope.root, event.exit_reason if failed else "")
        self.metrics.session_duration.record(time.monotonic() - self.started_s, {"termagent.exit_reason":
                                                                                 event.exit_reason})
        self.scopes.clear()

    def close_open_spans(self, keep_root: bool = False) -> None:
        """Whatever is still open when the session goes (an interrupt, a crash) is ended, not lost."""
        for agent, scope in list(self.scopes.items()):
            open_spans = [span for span, _ in scope.requests.values()] + list(scope.tools.values())
            open_spans += [span for span in (scope.compaction, scope.turn) if span is not None]
            for span in open_spans:
                self._end(span, "interrupted")
            scope.requests, scope.tools, scope.compaction, scope.turn = {}, {}, None, None
            if agent != MAIN or not keep_root:
                self._end(scope.root)
        if not keep_root:
            self.scopes.clear()

    def _turn_started(self, scope: Scope, event: TurnStarted) -> None:
        attributes: dict[str, Any] = {"termagent.turn": event.turn, "gen_ai.agent.name": scope.agent}
        if self.log_content:
            attributes["termagent.prompt"] = event.text
        scope.turn = self._start("turn", scope.root, attributes)

    def _turn_finished(self, scope: Scope, event: TurnFinished) -> None:
        if scope.turn is None:
            return
        scope.turn.set_attribute("termagent.stop_reason", event.stop_reason)
        if self.log_content and event.text:
            scope.turn.set_attribute("termagent.answer", event.text)
        self._end(scope.turn, event.stop_reason if event.stop_reason in FAILED_STOPS else "")
        scope.turn = None

    # ------------------------------------------------------------ model requests

    def _request_started(self, scope: Scope, event: ModelRequestStarted) -> None:
        parent: Span = scope.parent()
        if event.role == "compaction":
            scope.compaction = self._start("compaction", parent, {"gen_ai.agent.name": scope.agent})
            parent = scope.compaction
        span = self._start(f"chat {event.model}", parent, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": event.model, "termagent.role": event.role,
        }, SpanKind.CLIENT)
        scope.requests[event.role] = (span, time.monotonic())

    def _request_finished(self, scope: Scope, event: UsageUpdated) -> None:
        opened = scope.requests.pop(event.role, None)
        if opened is None:
            return
        span, started = opened
        usage = event.request_usage
        span.set_attributes({
            "gen_ai.response.model": event.model,
            "gen_ai.response.finish_reasons": [event.stop_reason] if event.stop_reason else [],
            "gen_ai.usage.input_tokens": usage.get("input_tokens", 0),
            "gen_ai.usage.output_tokens": usage.get("output_tokens", 0),
            "gen_ai.usage.cache_read.input_tokens": usage.get("cache_read_input_tokens", 0),
            "gen_ai.usage.cache_creation.input_tokens": usage.get("cache_creation_input_tokens", 0),
            "termagent.cost_usd": event.request_cost_usd,
        })
        self._end(span)
        self._count_request(event, time.monotonic() - started)

    def _count_request(self, event: UsageUpdated, duration_s: float) -> None:
        usage, model = event.request_usage, event.model
        labels = {"gen_ai.request.model": model, "gen_ai.provider.name": PROVIDER}
        for kind in ("input", "output", "cache_read_input", "cache_creation_input"):
            self.metrics.tokens.add(usage.get(f"{kind}_tokens", 0), {**labels, "gen_ai.token.type": kind})
        self.metrics.token_usage.record(usage.get("input_tokens", 0), {**labels, "gen_ai.token.type": "input"})
        self.metrics.token_usage.record(usage.get("output_tokens", 0), {**labels, "gen_ai.token.type": "output"})
        self.metrics.cost.add(event.request_cost_usd, labels)
        self.metrics.requests.add(1, {**labels, "termagent.role": event.role})
        self.metrics.request_duration.record(duration_s, {**labels, "gen_ai.operation.name": "chat"})
        prompt = sum(usage.get(k, 0) for k in ("input_tokens", "cache_read_input_tokens",
                                               "cache_creation_input_tokens"))
        if prompt:
            self.metrics.cache_hit_ratio.record(usage.get("cache_read_input_tokens", 0) / prompt, labels)

    def _retrying(self, scope: Scope, event: ModelRetrying) -> None:
        self.metrics.retries.add(1, {"termagent.reason": event.reason[:80]})
        for span, _ in scope.requests.values():
            span.add_event("retry", {"termagent.attempt": event.attempt, "termagent.delay_s": event.delay_s,
                                     "termagent.reason": event.reason}, timestamp=self.clock())

    def _compaction_done(self, scope: Scope, event: CompactionDone) -> None:
        span = scope.compaction or self._start("compaction", scope.parent(), {"gen_ai.agent.name": scope.agent})
        span.set_attributes({"termagent.turns_folded": event.turns_folded,
                             "termagent.tokens_before": event.tokens_before,
                             "termagent.tokens_after": event.tokens_after})
        self._end(span)
        scope.compaction = None

    # ------------------------------------------------------------ tool calls and subagents

    def _tool_started(self, scope: Scope, event: ToolCallStarted) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.name,
            "gen_ai.tool.call.id": event.call_id, "termagent.tool.risk": event.risk,
        }
        if self.log_content:
            attributes["gen_ai.tool.call.arguments"] = _json(event.input)
        span = self._start(f"execute_tool {event.name}", scope.parent(), attributes)
        scope.tools[event.call_id] = span
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(span))
        tracecontext.TRACEPARENT.set(carrier.get("traceparent", ""))

    def _tool_finished(self, scope: Scope, event: ToolCallFinished) -> None:
        span = scope.tools.pop(event.call_id, None)
        outcome = "ok" if event.ok else (event.error_type or "error")
        self.metrics.tool_calls.add(1, {"gen_ai.tool.name": event.name, "termagent.outcome": outcome})
        if event.decision == "deny":
            self.metrics.denials.add(1, {"gen_ai.tool.name": event.name, "termagent.decided_by": event.decided_by})
        if span is None:
            return
        span.set_attributes({"termagent.decision": event.decision or "none",
                             "termagent.decided_by": event.decided_by or "harness",
                             "termagent.duration_s": event.duration_s, "termagent.ok": event.ok})
        if self.log_content:
            span.set_attribute("gen_ai.tool.call.result", event.output[:4000])
        self._end(span, "" if event.ok else outcome)

    def _approval_resolved(self, scope: Scope, event: ApprovalResolved) -> None:
        for span in scope.tools.values():
            span.add_event("approval", {"termagent.decision": event.decision,
                                        "termagent.decided_by": event.decided_by}, timestamp=self.clock())

    def _subagent_started(self, scope: Scope, event: SubagentStarted) -> None:
        parent = scope.tools.get(event.call_id) or scope.parent()
        attributes: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": event.agent,
                                      "gen_ai.agent.id": event.agent_id}
        if self.log_content:
            attributes["termagent.task"] = event.task
        self.scopes[event.agent_id] = Scope(self._start(f"invoke_agent {event.agent}", parent, attributes),
                                            event.agent)

    def _subagent_finished(self, scope: Scope, event: SubagentFinished) -> None:
        child = self.scopes.pop(event.agent_id, None)
        if child is None:
            return
        child.root.set_attributes({"termagent.status": event.status, "termagent.cost_usd": event.cost_usd})
        self._end(child.root, "" if event.status == "ok" else event.status)

    # ------------------------------------------------------------ notices

    def _warning(self, scope: Scope, event: Warning) -> None:
        scope.parent().add_event("warning", {"message": event.message[:500]}, timestamp=self.clock())

    def _error(self, scope: Scope, event: Error) -> None:
        scope.parent().add_event("error", {"message": event.message[:500], "error.type": event.kind},
                                 timestamp=self.clock())


def _inherited_context() -> Context | None:
    """A caller's TRACEPARENT (a CI pipeline) makes the session a child of its trace."""
    value = tracecontext.inherited_traceparent()
    return TraceContextTextMapPropagator().extract({"traceparent": value}) if value else None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)[:4000]
