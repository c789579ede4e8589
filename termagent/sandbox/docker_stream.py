"""Reading one exec's multiplexed output stream without unbounded buffering.

The docker SDK's streaming helpers keep the client's 60 s socket timeout, which would
break a quiet `pytest` run, and cannot be interrupted from another thread. So we take
the raw socket, read frames ourselves in a worker thread, and keep a handle that the
event loop can shut down when the host-side deadline passes.
"""

from __future__ import annotations

import socket as socketlib
import threading
from typing import Any

from termagent.sandbox.output_cap import HeadTailBuffer, LiveForwarder

STDOUT = 1
STDERR = 2
CONTROL_CAP = 64_000


class ExecStream:
    """Drains one exec's socket into a capped output buffer and a control buffer."""

    def __init__(self, sock: Any, output: HeadTailBuffer, live: LiveForwarder, exec_id: str = "") -> None:
        self._sock = sock
        self.exec_id = exec_id
        self.output = output
        self.live = live
        self.control = bytearray()
        self._closed = threading.Event()
        for candidate in (sock, getattr(sock, "_sock", None)):
            if candidate is not None and hasattr(candidate, "settimeout"):
                candidate.settimeout(None)

    def drain(self) -> None:
        """Blocking: read frames until the exec ends or `shutdown` is called."""
        from docker.utils.socket import frames_iter

        try:
            for stream_id, data in frames_iter(self._sock, tty=False):
                if stream_id == STDERR:
                    self._keep_control(data)
                else:
                    self.output.feed(data)
                    self.live.feed(data)
        except (OSError, ValueError):
            if not self._closed.is_set():
                raise
        finally:
            self.live.close()
            self.shutdown()

    def _keep_control(self, data: bytes) -> None:
        self.control += data
        if len(self.control) > CONTROL_CAP:
            del self.control[: len(self.control) - CONTROL_CAP]

    def shutdown(self) -> None:
        """Unblock a pending read (from any thread) and release the connection."""
        if self._closed.is_set():
            return
        self._closed.set()
        raw = getattr(self._sock, "_sock", self._sock)
        try:
            raw.shutdown(socketlib.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        for closable in (self._sock, getattr(self._sock, "_response", None)):
            try:
                if closable is not None:
                    closable.close()
            except Exception:
                continue
