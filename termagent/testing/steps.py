"""Step builders for the scripted model server: plain JSON-able dicts.

Steps are dicts (not classes) so a whole session script can live in a bundled
``.json`` file and be replayed by ``termagent replay`` exactly as a test runs it.
A step is one of::

    {"reply": {"content": [...], "stop_reason"?, "usage"?, "model"?}}
    {"fault": {"status": 529, "body"?, "headers"?}}
    {"cut": {"reply": {...}, "after_events": N}}
    {"sse_error": {"reply": {...}, "after_events": N, "error_type"?, "message"?}}
    {"stall": {"reply"?: {...}, "after_events": N | null}}

A bare content block (``text(...)`` / ``tool_use(...)``) is accepted wherever a
step is and means a one-block reply.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

Step = dict[str, Any]

_tool_ids = itertools.count(1)

#: Error type the real API reports for each HTTP status.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    529: "overloaded_error",
}

_MESSAGES: dict[str, str] = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Rate limited (scripted)",
    "api_error": "Internal server error (scripted)",
}

STEP_KINDS = ("reply", "fault", "cut", "sse_error", "stall")


def error_body(status: int, message: str | None = None, error_type: str | None = None) -> dict[str, Any]:
    """An API-shaped error body, so the SDK builds the same exception as in production."""
    kind = error_type or ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message or _MESSAGES.get(kind, kind)}}


def text(value: str) -> Step:
    """A text content block."""
    return {"type": "text", "text": value}


def tool_use(name: str, input: dict[str, Any], id: str | None = None) -> Step:  # noqa: A002 - API field names
    """A tool_use block; ``id`` defaults to a process-unique ``toolu_<n>``."""
    return {"type": "tool_use", "id": id or f"toolu_{next(_tool_ids)}", "name": name, "input": input}


def tool_use_raw(name: str, input_json: str, id: str | None = None) -> Step:  # noqa: A002
    """A tool_use block whose streamed ``input_json_delta`` text is exactly ``input_json``.

    Use it to send malformed or truncated tool JSON, which the real model
    occasionally produces.
    """
    return {"type": "tool_use", "id": id or f"toolu_{next(_tool_ids)}", "name": name, "input_json": input_json}


def reply(
    *content: Step | str,
    stop_reason: str | None = None,
    usage: dict[str, int] | None = None,
    model: str | None = None,
) -> Step:
    """A complete assistant message. Plain strings are shorthand for ``text(...)``.

    ``stop_reason`` defaults to ``tool_use`` when a tool is called, else ``end_turn``;
    ``usage`` entries override the computed defaults one by one.
    """
    blocks = [text(c) if isinstance(c, str) else c for c in content]
    for block in blocks:
        if block.get("type") not in ("text", "tool_use"):
            raise ValueError(f"reply content must be text(...) or tool_use(...) blocks, got {block!r}")
    body: dict[str, Any] = {"content": blocks}
    if stop_reason is not None:
        body["stop_reason"] = stop_reason
    if usage is not None:
        body["usage"] = dict(usage)
    if model is not None:
        body["model"] = model
    return {"reply": body}


def fault(status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Step:
    """An HTTP error response, e.g. ``fault(529)`` or ``fault(429, headers={"retry-after": "0"})``."""
    return {"fault": {"status": status, "body": body or error_body(status), "headers": dict(headers or {})}}


def cut(reply_step: Step | str, after_events: int) -> Step:
    """Stream ``after_events`` SSE events of the reply, then drop the connection mid-body.

    Pings are not counted. Each block streams as one ``content_block_start``, up to
    ``pieces`` deltas (3 by default) and one ``content_block_stop``, after a single
    ``message_start``; so ``after_events=3`` stops inside the first block.
    """
    return {"cut": {"reply": as_reply(reply_step)["reply"], "after_events": after_events}}


def sse_error(
    reply_step: Step | str,
    after_events: int,
    error_type: str = "overloaded_error",
    message: str | None = None,
) -> Step:
    """Stream ``after_events`` events of the reply, then an ``event: error`` as the API does."""
    payload: dict[str, Any] = {"reply": as_reply(reply_step)["reply"], "after_events": after_events}
    payload["error_type"] = error_type
    payload["message"] = message or _MESSAGES.get(error_type, error_type)
    return {"sse_error": payload}


def stall(reply_step: Step | str | None = None, after_events: int | None = None) -> Step:
    """Hold the request silent: before any response header when ``after_events`` is None,
    else after streaming that many events of the reply (counted as for ``cut``).

    The hold ends when the server stops (or ``release_stalls()``), never on a timer, so a
    test that sets short client deadlines does not wait for the server at all."""
    if after_events is None:
        return {"stall": {"after_events": None}}
    if reply_step is None:
        raise ValueError("stall(after_events=N) needs the reply whose first N events are streamed")
    return {"stall": {"reply": as_reply(reply_step)["reply"], "after_events": after_events}}


def as_reply(step: Step | str) -> Step:
    """Accept a reply step, a bare content block or a string, and return a reply step."""
    if isinstance(step, str):
        return reply(step)
    if "reply" in step:
        return step
    if step.get("type") in ("text", "tool_use"):
        return reply(step)
    raise ValueError(f"expected reply(...) or a content block, got {step!r}")


def normalize(step: Step | str) -> Step:
    """Validate a step when it is queued, so a bad script fails at once, not mid-test."""
    if isinstance(step, str) or (isinstance(step, dict) and step.get("type") in ("text", "tool_use")):
        return as_reply(step)
    if not isinstance(step, dict):
        raise ValueError(f"a step must be a dict, got {type(step).__name__}: {step!r}")
    kinds = [k for k in STEP_KINDS if k in step]
    if len(kinds) != 1:
        raise ValueError(f"a step needs exactly one of {STEP_KINDS}, got {step!r}")
    kind = kinds[0]
    if kind == "fault" and not isinstance(step["fault"].get("status"), int):
        raise ValueError(f"fault step needs an int status: {step!r}")
    if kind in ("cut", "sse_error") and not isinstance(step[kind].get("after_events"), int):
        raise ValueError(f"{kind} step needs an int after_events: {step!r}")
    if kind == "stall" and step["stall"].get("after_events") is None:
        return step
    if kind == "stall" and not isinstance(step["stall"].get("after_events"), int):
        raise ValueError(f"stall step needs an int or null after_events: {step!r}")
    if kind != "fault":
        _check_reply(step[kind] if kind == "reply" else step[kind].get("reply"), step)
    return step


def _check_reply(body: Any, step: Step) -> None:
    blocks = body.get("content") if isinstance(body, dict) else None
    if not isinstance(blocks, list):
        raise ValueError(f"reply needs a 'content' list: {step!r}")
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            continue
        if kind == "tool_use" and isinstance(block.get("name"), str) and ("input" in block or "input_json" in block):
            continue
        raise ValueError(f"bad content block {block!r} in step {step!r}")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: parsed JSON body, lower-cased headers, path with query."""

    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    received_at: float = 0.0  # time.monotonic() on arrival, to check a client's waits
