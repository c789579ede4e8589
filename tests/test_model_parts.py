"""Pieces of the model layer that need no server: accumulation, backoff, cache markers, prices."""

from __future__ import annotations

import random

from termagent.model.pricing import Usage, cost_usd
from termagent.model.reply import ReplyBuilder
from termagent.model.request import StablePrefix, build_request
from termagent.model.retry import Backoff, CircuitBreaker, is_spend_limit


def events_for_tool(json_parts, closed=True, stop="tool_use"):
    yield {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 10}}}
    yield {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "x"}}
    for part in json_parts:
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": part}}
    if closed:
        yield {"type": "content_block_stop", "index": 0}
        yield {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 5}}
        yield {"type": "message_stop"}


def build(events):
    builder = ReplyBuilder()
    for event in events:
        builder.feed(event)
    return builder


def test_split_tool_json_is_joined_and_parsed_strictly():
    builder = build(events_for_tool(['{"pa', 'th": "a', '.py"}']))
    reply = builder.finish()
    assert builder.completed and reply.tool_calls[0].input == {"path": "a.py"}
    assert reply.usage == Usage(10, 5, 0, 0)


def test_unclosed_or_truncated_tool_call_has_no_input():
    cut = build(events_for_tool(['{"path": "a.py", "content": "hal'], closed=False)).finish()
    assert cut.tool_calls[0].input is None and "ended inside" in cut.tool_calls[0].problem
    truncated = build(events_for_tool(['{"path": "a.py"}'], stop="max_tokens")).finish()
    assert truncated.tool_calls[0].input is None and "max_tokens" in truncated.tool_calls[0].problem
    # the history still gets a valid tool_use block
    assert truncated.content[0]["input"] == {}


def test_backoff_honours_retry_after_and_grows_with_jitter():
    backoff = Backoff(base_s=1.0, max_s=8.0)
    rng = random.Random(1)
    assert backoff.delay(0, 2.5, rng) == 2.5
    delays = [backoff.delay(n, None, rng) for n in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and all(4.0 <= d <= 8.0 for d in delays[3:])


def test_breaker_opens_after_consecutive_failures_and_resets_on_success():
    breaker = CircuitBreaker(3)
    for _ in range(2):
        breaker.record_failure()
    assert not breaker.open
    breaker.record_success()
    for _ in range(3):
        breaker.record_failure()
    assert breaker.open


def test_spend_limit_detection():
    assert is_spend_limit(429, "You have reached your spend limit")
    assert is_spend_limit(400, "Your credit balance is too low")
    assert not is_spend_limit(429, "Number of requests has exceeded your rate limit")


def test_cache_markers_go_on_the_prefix_and_newest_message_only():
    prefix = StablePrefix(("system prompt", "memory"), ({"name": "t", "description": "d", "input_schema": {}},))
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}]
    body = build_request("m", 100, prefix, messages)
    assert "cache_control" not in body["system"][0] and body["system"][1]["cache_control"]
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0] == {"role": "user", "content": "hi"}
    assert "cache_control" not in messages[1]["content"][0]  # the history itself is untouched


def test_cost_uses_longest_prefix_match_and_unknown_models_cost_nothing():
    usage = Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert cost_usd("claude-opus-4-5-20251101", usage) == 5 + 25 + 6.25 + 0.5
    assert cost_usd("claude-opus-4-1", usage) == 15 + 75 + 18.75 + 1.5
    assert cost_usd("llama3", usage) == 0.0
