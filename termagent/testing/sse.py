"""Turn a scripted reply into what the Messages API sends: SSE events or one JSON message.

The event sequence and field names mirror the real API, because the point of the
scripted server is that the unmodified ``anthropic`` SDK accumulates the stream
exactly as it would in production (text split across deltas, tool input arriving
as partial JSON, pings in between, usage split over message_start/message_delta).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

Event = tuple[str, dict[str, Any]]

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


@dataclass(frozen=True)
class RenderContext:
    """What a rendering needs from the request: ids, model echo and size for usage."""

    message_id: str
    request_model: str
    request_chars: int


def tool_input_json(block: dict[str, Any]) -> str:
    """The exact JSON text a tool block streams (raw text for ``tool_use_raw``)."""
    if "input_json" in block:
        return str(block["input_json"])
    return json.dumps(block.get("input", {}))


def usage_for(reply: dict[str, Any], request_chars: int) -> dict[str, int]:
    """Defaults of roughly 4 characters per token, overridden key by key by the script."""
    out_chars = sum(
        len(b.get("text", "")) if b.get("type") == "text" else len(tool_input_json(b)) for b in reply["content"]
    )
    usage = {
        "input_tokens": max(1, request_chars // 4),
        "output_tokens": max(1, out_chars // 4),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    usage.update({k: int(v) for k, v in (reply.get("usage") or {}).items() if k in _USAGE_KEYS})
    return usage


def stop_reason_for(reply: dict[str, Any]) -> str:
    """``tool_use`` when any tool is called, else ``end_turn``, unless the script says otherwise."""
    if reply.get("stop_reason"):
        return str(reply["stop_reason"])
    return "tool_use" if any(b.get("type") == "tool_use" for b in reply["content"]) else "end_turn"


def message_json(reply: dict[str, Any], ctx: RenderContext) -> dict[str, Any]:
    """The non-streaming response body. Malformed raw tool JSON is passed through as a string."""
    content = []
    for block in reply["content"]:
        if block["type"] == "text":
            content.append({"type": "text", "text": block["text"]})
            continue
        raw = tool_input_json(block)
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw
        content.append({"type": "tool_use", "id": block["id"], "name": block["name"], "input": parsed})
    return {
        "id": ctx.message_id,
        "type": "message",
        "role": "assistant",
        "model": reply.get("model") or ctx.request_model,
        "content": content,
        "stop_reason": stop_reason_for(reply),
        "stop_sequence": None,
        "usage": usage_for(reply, ctx.request_chars),
    }


def split_points(value: str, pieces: int, rng: random.Random) -> list[str]:
    """Split ``value`` into at most ``pieces`` non-empty parts at random points."""
    if len(value) <= 1 or pieces <= 1:
        return [value]
    cuts = sorted(rng.sample(range(1, len(value)), min(pieces, len(value)) - 1))
    bounds = [0, *cuts, len(value)]
    return [value[a:b] for a, b in zip(bounds, bounds[1:])]


def _block_events(index: int, block: dict[str, Any], pieces: int, rng: random.Random) -> list[Event]:
    if block["type"] == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in split_points(block["text"], pieces, rng)]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        parts = split_points(tool_input_json(block), pieces, rng)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
    events: list[Event] = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
    ]
    events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def stream_events(reply: dict[str, Any], ctx: RenderContext, pieces: int, rng: random.Random) -> list[Event]:
    """The full event list for one streamed reply, pings excluded (see ``with_pings``)."""
    message = message_json(reply, ctx)
    usage = message["usage"]
    start_usage = dict(usage, output_tokens=1)
    start_message = dict(message, content=[], stop_reason=None, usage=start_usage)
    events: list[Event] = [("message_start", {"type": "message_start", "message": start_message})]
    for index, block in enumerate(reply["content"]):
        events += _block_events(index, block, pieces, rng)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(
        ("message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage["output_tokens"]}})
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def with_pings(events: list[Event], rng: random.Random, chance: float = 0.25) -> list[Event]:
    """Insert ``ping`` events: always one after message_start (as the API does), some later."""
    ping: Event = ("ping", {"type": "ping"})
    out: list[Event] = []
    for i, event in enumerate(events):
        out.append(event)
        if i == 0 or (event[0] == "content_block_delta" and rng.random() < chance):
            out.append(ping)
    return out


def encode(name: str, data: dict[str, Any]) -> bytes:
    """One SSE frame."""
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
