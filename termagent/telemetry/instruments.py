"""The metrics a session records: tokens, cost, requests, retries, tool calls, denials, durations."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.metrics import Counter, Histogram, Meter


@dataclass(frozen=True)
class Instruments:
    tokens: Counter
    token_usage: Histogram
    cost: Counter
    requests: Counter
    request_duration: Histogram
    retries: Counter
    tool_calls: Counter
    denials: Counter
    session_duration: Histogram
    cache_hit_ratio: Histogram

    @classmethod
    def create(cls, meter: Meter) -> "Instruments":
        return cls(
            tokens=meter.create_counter("termagent.tokens", "{token}", "tokens by type and model"),
            token_usage=meter.create_histogram("gen_ai.client.token.usage", "{token}",
                                               "input and output tokens per request (GenAI conventions)"),
            cost=meter.create_counter("termagent.cost", "USD", "cost of model requests"),
            requests=meter.create_counter("termagent.model.requests", "{request}", "model requests by role"),
            request_duration=meter.create_histogram("gen_ai.client.operation.duration", "s",
                                                    "model request duration (GenAI conventions)"),
            retries=meter.create_counter("termagent.model.retries", "{retry}", "model requests sent again"),
            tool_calls=meter.create_counter("termagent.tool.calls", "{call}", "tool calls by tool and outcome"),
            denials=meter.create_counter("termagent.denials", "{denial}", "calls refused, by tool and decider"),
            session_duration=meter.create_histogram("termagent.session.duration", "s", "session wall time"),
            cache_hit_ratio=meter.create_histogram("termagent.cache.hit_ratio", "1",
                                                   "share of a request's prompt read from the cache"),
        )
