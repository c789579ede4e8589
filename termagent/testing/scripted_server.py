"""A scripted Anthropic-compatible Messages API server for tests and ``termagent replay``.

It speaks real HTTP and real SSE so the unmodified ``anthropic`` SDK, pointed at
``server.url`` by base URL, streams from it exactly as from the real API; no part of
the SDK is patched. Each ``POST /v1/messages`` consumes the next scripted step
(FIFO), optionally routed first through a ``responder`` callable. Every request is
recorded so tests can assert what the agent actually sent.

Standard library only: it ships in the package because the CLI's replay command
starts it too.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from termagent.testing.responses import Exchange, respond
from termagent.testing.steps import (
    RecordedRequest,
    Step,
    cut,
    fault,
    normalize,
    reply,
    sse_error,
    stall,
    text,
    tool_use,
    tool_use_raw,
)

__all__ = [
    "RecordedRequest",
    "ScriptedServer",
    "cut",
    "fault",
    "reply",
    "sse_error",
    "stall",
    "text",
    "tool_use",
    "tool_use_raw",
]


Responder = Callable[[RecordedRequest], "Step | None"]


class ScriptedServer:
    """Serves scripted steps over HTTP on 127.0.0.1 (or ``host``) from a daemon thread.

    ``seed`` fixes where text and tool JSON are split into deltas and where pings
    fall; ``chunk_delay_s`` sleeps between SSE events so benchmarks can stream at a
    known rate; ``pieces`` is the most deltas one content block is split into.
    """

    def __init__(
        self,
        steps: Iterable[Step] = (),
        responder: Responder | None = None,
        seed: int = 0,
        chunk_delay_s: float = 0.0,
        pieces: int = 3,
        host: str = "127.0.0.1",
    ) -> None:
        self.responder = responder
        self.host = host  # "0.0.0.0" lets a container reach it (the Harbor test does)
        self.seed = seed
        self.chunk_delay_s = chunk_delay_s
        self.pieces = pieces
        self._lock = threading.Lock()
        self._steps: collections.deque[Step] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._counter = itertools.count(1)
        self._tool_ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self._released = threading.Event()
        self._problems: list[str] = []
        self._spare = 0
        self.add(*steps)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedServer:
        """Load ``{"steps": [...], "seed"?: int}``; keyword arguments win over the file."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise ValueError(f"{path}: expected a JSON object with a 'steps' list")
        kwargs.setdefault("seed", int(data.get("seed", 0)))
        return cls(data["steps"], **kwargs)

    # -- script -------------------------------------------------------------

    def add(self, *steps: Step) -> None:
        """Append steps to the queue (validated now, so a typo fails here)."""
        checked = [normalize(s) for s in steps]
        with self._lock:
            self._steps.extend(checked)

    def add_spare(self, *steps: Step) -> None:
        """Append steps a test offers without knowing how many the client will take (one
        per review chunk, say): `check_finished` accepts these left over."""
        self.add(*steps)
        with self._lock:
            self._spare += len(steps)

    @property
    def pending(self) -> int:
        """Steps not yet consumed; a finished test usually expects 0."""
        with self._lock:
            return len(self._steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order (all paths)."""
        with self._lock:
            return list(self._requests)

    @property
    def problems(self) -> list[str]:
        """Requests the server had to refuse: a `tool_use` left without its `tool_result`
        (answered with the API's own 400), or a request after the script ran out."""
        with self._lock:
            return list(self._problems)

    def note_problem(self, problem: str) -> None:
        with self._lock:
            self._problems.append(problem)

    def check_finished(self) -> None:
        """Raise unless every request was well formed and every queued step was used: a step
        left over means the client stopped earlier than the test believes."""
        problems = self.problems
        with self._lock:
            unused = max(0, len(self._steps) - self._spare)
        if unused:
            problems.append(f"{unused} scripted step(s) never requested")
        if problems:
            raise AssertionError("scripted server: " + "; ".join(problems))

    def release_stalls(self) -> None:
        """End every held ``stall`` step now (stopping the server does it too)."""
        self._released.set()

    def hold(self) -> None:
        """Block a handler thread on a ``stall`` step until released or stopped."""
        self._released.wait()

    # -- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        if self._httpd is not None:
            return
        self.stopping.clear()
        self._released.clear()
        self._httpd = _HTTPServer((self.host, 0), _Handler, self)
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="scripted-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and drop open connections so no client or thread hangs."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        self._released.set()
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler --------------------------------------------------

    def record(self, request: RecordedRequest) -> int:
        """Record a request and return its 1-based sequence number."""
        with self._lock:
            self._requests.append(request)
            return next(self._counter)

    def next_step(self, request: RecordedRequest) -> Step | None:
        """The responder's answer if it has one, else the head of the queue, else None."""
        if self.responder is not None:
            routed = self.responder(request)
            if routed is not None:
                return normalize(routed)
        with self._lock:
            return self._steps.popleft() if self._steps else None

    def fill_tool_ids(self, reply_body: dict[str, Any]) -> dict[str, Any]:
        """Give id-less tool blocks (from hand-written JSON scripts) a stable per-server id."""
        content = []
        for block in reply_body["content"]:
            if block.get("type") == "tool_use" and not block.get("id"):
                block = dict(block, id=f"toolu_s{next(self._tool_ids):03d}")
            content.append(block)
        return dict(reply_body, content=content)


class _HTTPServer(ThreadingHTTPServer):
    """Tracks live connections so ``stop`` can close idle keep-alive sockets."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, owner: ScriptedServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_all_connections(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-stream are normal here (interrupt tests); stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class signature
        """Silence per-request logging; the recorded requests are the log."""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        request = RecordedRequest(
            body=body if isinstance(body, dict) else {"_json": body},
            headers={k.lower(): v for k, v in self.headers.items()},
            path=self.path,
            received_at=time.monotonic(),
        )
        seq = self.server.owner.record(request)
        try:
            respond(Exchange(self, self.server.owner, request, seq, len(raw)))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

