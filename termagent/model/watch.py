"""Deadlines and "still waiting" notices for one streamed model request.

The SDK's read timeout is the whole-request budget (minutes), so a request whose
response headers never come, or a stream that goes quiet after a few events, would sit
silent for that long. `StreamWatch` puts two shorter deadlines on an attempt, one for
the first byte and one between stream events, and turns an expired one into
`StallTimeout`, which the client retries like a cut stream. While the model is silent,
and while a retry waits out its delay, it reports every few seconds, so a front end can
show "waiting for the model (30 s)…" instead of looking hung.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

WAIT_TICK_S = 5.0
COUNTDOWN_MIN_S = 2.0  # shorter backoff sleeps need no countdown; ModelRetrying says enough


@dataclass(frozen=True)
class WaitNotice:
    waited_s: float
    remaining_s: float
    message: str


OnWait = Callable[[WaitNotice], None]


class StallTimeout(Exception):
    """No response headers, or no stream event, within its deadline."""


def seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


class StreamWatch:
    """Async context for one attempt: call `headers_arrived` once, `event_arrived` per event."""

    def __init__(self, first_byte_s: float, idle_s: float, on_wait: OnWait | None) -> None:
        self._first_byte_s = first_byte_s
        self._idle_s = idle_s
        self._on_wait = on_wait
        self._timeout = asyncio.timeout(_limit(first_byte_s))
        self._ticker: asyncio.Task[None] | None = None
        self._last = time.monotonic()
        self.events = 0
        self.streaming = False

    async def __aenter__(self) -> StreamWatch:
        await self._timeout.__aenter__()
        if self._on_wait is not None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        if self._ticker is not None:
            self._ticker.cancel()
        try:
            await self._timeout.__aexit__(kind, exc, tb)
        except TimeoutError:
            raise StallTimeout(self.reason()) from None
        return False

    def headers_arrived(self) -> None:
        self.streaming = True
        self._kick()

    def event_arrived(self) -> None:
        self.events += 1
        self._kick()

    def reason(self) -> str:
        if not self.streaming:
            return f"no response from the model within {seconds(self._first_byte_s)} s (model.first_byte_timeout_s)"
        return (f"the stream stalled: no event for {seconds(self._idle_s)} s after {self.events} events "
                "(model.stream_idle_timeout_s)")

    def _kick(self) -> None:
        self._last = time.monotonic()
        idle = _limit(self._idle_s)
        self._timeout.reschedule(None if idle is None else asyncio.get_running_loop().time() + idle)

    async def _tick(self) -> None:
        limits = [limit for limit in (self._first_byte_s, self._idle_s) if limit > 0]
        tick = min([WAIT_TICK_S] + [limit / 2 for limit in limits])
        while True:
            await asyncio.sleep(tick)
            silent = time.monotonic() - self._last
            if silent >= tick * 0.9 and self._on_wait is not None:
                self._on_wait(WaitNotice(round(silent, 1), 0.0, f"waiting for the model ({seconds(silent)} s)…"))


def _limit(value: float) -> float | None:
    """A deadline in seconds; zero or less switches it off."""
    return value if value > 0 else None


async def countdown(delay_s: float, server_asked: bool, on_wait: OnWait | None) -> None:
    """Sleep `delay_s`, reporting the time left every few seconds when the wait is long
    enough to notice or was the server's own request (a 429's retry-after)."""
    if on_wait is None or (delay_s < COUNTDOWN_MIN_S and not server_asked):
        await asyncio.sleep(delay_s)
        return
    remaining = delay_s
    why = " (the server asked to wait)" if server_asked else ""
    while remaining > 0:
        on_wait(WaitNotice(round(delay_s - remaining, 1), round(remaining, 1),
                           f"retrying in {seconds(remaining)} s{why}…"))
        step = min(WAIT_TICK_S, remaining)
        await asyncio.sleep(step)
        remaining -= step
