"""Write one scripted step as an HTTP response: JSON, an SSE stream, or a broken one.

Streams use chunked transfer encoding on a keep-alive HTTP/1.1 connection, so a
``cut`` (connection dropped before the terminating chunk) is an incomplete body the
SDK's HTTP client must report as an error, never a silently short message.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from termagent.testing import sse
from termagent.testing.pairing import unanswered_tool_uses
from termagent.testing.steps import ERROR_TYPES, RecordedRequest, Step, error_body

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler


class StepSource(Protocol):
    """What answering a request needs of the server: its script and its stream settings.

    A protocol rather than the server class, so this module does not import the server
    that imports it."""

    seed: int
    pieces: int
    chunk_delay_s: float
    stopping: threading.Event

    def next_step(self, request: RecordedRequest) -> Step | None: ...

    def hold(self) -> None: ...

    def note_problem(self, problem: str) -> None: ...

    def fill_tool_ids(self, reply_body: dict[str, Any]) -> dict[str, Any]: ...


MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
_STATUS_FOR_ERROR = {kind: status for status, kind in ERROR_TYPES.items() if status not in (502, 503)}


@dataclass(frozen=True)
class Exchange:
    """One request being answered: the handler to write to and what we know of the request."""

    handler: BaseHTTPRequestHandler
    owner: StepSource
    request: RecordedRequest
    seq: int
    size: int


def respond(ex: Exchange) -> None:
    """Route a recorded request and answer it."""
    handler, request, seq = ex.handler, ex.request, ex.seq
    route = request.path.split("?", 1)[0].rstrip("/")
    if handler.command != "POST" or route not in (MESSAGES_PATH, COUNT_TOKENS_PATH):
        message = f"scripted server: no route for {handler.command} {request.path}"
        send_json(handler, 404, error_body(404, message), seq)
        return
    if route == COUNT_TOKENS_PATH:
        send_json(handler, 200, {"input_tokens": max(1, ex.size // 4)}, seq)
        return
    unanswered = unanswered_tool_uses(request.body)
    if unanswered is not None:
        ex.owner.note_problem(f"request #{seq}: {unanswered}")
        send_json(handler, 400, error_body(400, unanswered), seq)
        return
    step = ex.owner.next_step(request)
    if step is None:
        ex.owner.note_problem(f"request #{seq}: the script was exhausted")
        message = f"scripted server: script exhausted, no step left for request #{seq} to {request.path}"
        send_json(handler, 500, error_body(500, message), seq, {"x-should-retry": "false"})
        return
    if "stall" in step and step["stall"].get("after_events") is None:
        ex.owner.hold()  # no status line, no headers: the client waits for its first byte
        handler.close_connection = True
        return
    if "fault" in step:
        spec = step["fault"]
        status = spec["status"]
        send_json(handler, status, spec.get("body") or error_body(status), seq, spec.get("headers"))
        return
    _respond_message(ex, step)


def _respond_message(ex: Exchange, step: Step) -> None:
    kind = next(k for k in ("reply", "cut", "sse_error", "stall") if k in step)
    spec = step[kind]
    body = ex.owner.fill_tool_ids(spec if kind == "reply" else spec["reply"])
    model = str(ex.request.body.get("model", "scripted-model"))
    ctx = sse.RenderContext(message_id=f"msg_scripted_{ex.seq:04d}", request_model=model, request_chars=ex.size)
    if not ex.request.body.get("stream"):
        _respond_plain(ex, kind, spec, sse.message_json(body, ctx))
        return
    rng = random.Random(f"{ex.owner.seed}:{ex.seq}")
    events = sse.with_pings(sse.stream_events(body, ctx, ex.owner.pieces, rng), rng)
    _start_stream(ex.handler, ex.seq)
    _send_events(ex, events, spec["after_events"] if kind != "reply" else None)
    if kind == "stall":
        ex.owner.hold()  # headers and some events sent, then silence on an open stream
    if kind in ("cut", "stall"):
        ex.handler.close_connection = True
        return
    if kind == "sse_error":
        error_type = spec.get("error_type", "overloaded_error")
        error = error_body(_STATUS_FOR_ERROR.get(error_type, 500), spec.get("message"), error_type)
        _write_chunk(ex.handler, sse.encode("error", error))
    _write_chunk(ex.handler, b"")


def _respond_plain(ex: Exchange, kind: str, spec: dict[str, Any], message: dict[str, Any]) -> None:
    """Non-streaming answers: a cut drops the connection, an sse_error becomes its HTTP status."""
    if kind == "stall":
        ex.owner.hold()
    if kind in ("cut", "stall"):
        ex.handler.close_connection = True
        return
    if kind == "sse_error":
        error_type = spec.get("error_type", "overloaded_error")
        status = _STATUS_FOR_ERROR.get(error_type, 500)
        send_json(ex.handler, status, error_body(status, spec.get("message"), error_type), ex.seq)
        return
    send_json(ex.handler, 200, message, ex.seq)


def _send_events(ex: Exchange, events: list[sse.Event], limit: int | None) -> None:
    """Send events, stopping before the first non-ping event past ``limit``."""
    sent = 0
    delay = ex.owner.chunk_delay_s
    for name, data in events:
        if limit is not None and name != "ping" and sent >= limit:
            return
        _write_chunk(ex.handler, sse.encode(name, data))
        sent += name != "ping"
        if delay > 0 and ex.owner.stopping.wait(delay):
            raise ConnectionResetError("scripted server stopping")


def _start_stream(handler: BaseHTTPRequestHandler, seq: int) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream; charset=utf-8")
    handler.send_header("cache-control", "no-cache")
    handler.send_header("transfer-encoding", "chunked")
    handler.send_header("request-id", _request_id(seq))
    handler.end_headers()


def _write_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """One HTTP/1.1 chunk; an empty ``data`` writes the terminating chunk."""
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    handler.wfile.flush()


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    seq: int,
    headers: dict[str, str] | None = None,
) -> None:
    """A JSON response with a length, so the keep-alive connection stays usable."""
    payload = json.dumps(body).encode()
    merged = {"content-type": "application/json", "request-id": _request_id(seq)}
    merged.update({k.lower(): str(v) for k, v in (headers or {}).items()})
    handler.send_response(status)
    for name, value in merged.items():
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
    handler.wfile.flush()


def _request_id(seq: int) -> str:
    return f"req_scripted_{seq:04d}"
