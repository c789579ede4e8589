"""Bounded capture of a command's output, and throttled live forwarding of it.

A command may print 50 MB (`yes`, `cat /dev/urandom`, a 1 GB line). The model only
needs the start (what ran) and the end (how it ended), and termagent's own memory
must not grow with the flood, so we keep a fixed head and a rolling tail and count
what fell out in between. Live display gets its own small budget for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ELISION_MARKER = "\n[... {n} bytes elided ...]\n"


FULL_LOG_CAP = 8 * 1024 * 1024


class HeadTailBuffer:
    """Keeps the first `cap // 2` and the last `cap - cap // 2` bytes fed to it.

    It also spools the first `full_cap` bytes, so an output the model only sees the
    ends of (a 200 KB test log) can still be stored whole as an artifact and read in
    slices later, instead of running the command again.
    """

    def __init__(self, cap: int, full_cap: int = FULL_LOG_CAP) -> None:
        self.cap = max(2, int(cap))
        self.head_cap = self.cap // 2
        self.tail_cap = self.cap - self.head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self._full = bytearray()
        self.full_cap = full_cap
        self.total = 0

    def full_text(self) -> str | None:
        """The spooled output when the capped render dropped something, else None."""
        if self.elided <= 0:
            return None
        text = bytes(self._full).decode("utf-8", errors="replace")
        if self.total > len(self._full):
            text += f"\n[... output continued for {self.total - len(self._full)} more bytes, not kept ...]\n"
        return text

    def feed(self, data: bytes) -> None:
        if len(self._full) < self.full_cap:
            self._full += data[: self.full_cap - len(self._full)]
        self.total += len(data)
        room = self.head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        if len(data) >= self.tail_cap:
            self._tail = bytearray(data[-self.tail_cap :])
            return
        self._tail += data
        # Trim lazily (at twice the cap) so a stream of small chunks stays linear.
        if len(self._tail) > 2 * self.tail_cap:
            del self._tail[: len(self._tail) - self.tail_cap]

    @property
    def elided(self) -> int:
        return self.total - len(self._head) - min(len(self._tail), self.tail_cap)

    def render(self) -> str:
        """Head, elision marker (when anything was dropped), tail; invalid UTF-8 replaced."""
        tail = bytes(self._tail[-self.tail_cap :]) if self._tail else b""
        head_text = bytes(self._head).decode("utf-8", errors="replace")
        if self.elided <= 0:
            return head_text + tail.decode("utf-8", errors="replace")
        # The cut may land inside a multi-byte character: drop its orphaned tail bytes.
        start = 0
        while start < min(3, len(tail)) and tail[start] & 0xC0 == 0x80:
            start += 1
        tail_text = tail[start:].decode("utf-8", errors="replace")
        return head_text + ELISION_MARKER.format(n=self.elided) + tail_text


class LiveForwarder:
    """Forwards output chunks for live display: throttled, and bounded in total.

    `feed` may be called from a reader thread; `deliver` is how text reaches the
    front end (the backend passes one that hops onto the event loop). At most
    `max_bytes` are forwarded per command; after that one notice says the rest is
    only in the final (capped) result.
    """

    def __init__(
        self,
        deliver: Callable[[str], None] | None,
        interval_s: float = 0.1,
        max_bytes: int = 256_000,
        flush_bytes: int = 16_000,
    ) -> None:
        self._deliver = deliver
        self._interval = interval_s
        self._max = max_bytes
        self._flush_bytes = flush_bytes
        self._pending = bytearray()
        self._sent = 0
        self._last = 0.0
        self._muted = False
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        if self._deliver is None or self._muted:
            return
        with self._lock:
            room = self._max - self._sent - len(self._pending)
            self._pending += data[: max(room, 0)]
            overflow = len(data) > room
            now = time.monotonic()
            due = now - self._last >= self._interval or len(self._pending) >= self._flush_bytes
        if due or overflow:
            self.flush()
        if overflow:
            self._muted = True
            self._deliver("\n[live output stopped here; the result keeps the head and tail]\n")

    def flush(self) -> None:
        if self._deliver is None:
            return
        with self._lock:
            if not self._pending:
                return
            # Hold back an incomplete UTF-8 sequence so a character is never split.
            cut = _complete_utf8_prefix(self._pending)
            chunk = bytes(self._pending[:cut])
            del self._pending[:cut]
            self._sent += len(chunk)
            self._last = time.monotonic()
        if chunk:
            self._deliver(chunk.decode("utf-8", errors="replace"))

    def close(self) -> None:
        """Deliver whatever is left, including a trailing partial character."""
        self.flush()
        with self._lock:
            rest = bytes(self._pending)
            self._pending.clear()
        if rest and self._deliver is not None and not self._muted:
            self._deliver(rest.decode("utf-8", errors="replace"))


def _complete_utf8_prefix(data: bytearray) -> int:
    """Length of the longest prefix that does not end inside a UTF-8 sequence."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:
            continue
        if byte & 0x80 == 0:
            return n
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        return n if back >= need else n - back
    return n
