"""When to try a model request again, how long to wait, and when to stop trying at all."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
SPEND_LIMIT_HINTS = ("credit balance", "spend limit", "spending limit", "billing", "quota", "usage limit")


class ModelError(Exception):
    """The model could not be reached or refused us for good: exit code 3."""

    def __init__(self, message: str, kind: str = "api", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter on an exponential curve; a server's retry-after is honoured exactly.

        Waiting less than the server asked only earns another refusal, so there is no cap
        here: `check_server_wait` decides whether a long wait is acceptable at all."""
        if retry_after is not None and retry_after >= 0:
            return retry_after
        ceiling = min(self.max_s, self.base_s * (2**attempt))
        return rng.uniform(ceiling / 2, ceiling)


def check_server_wait(retry_after: float | None, max_wait_s: float, reason: str) -> None:
    """Give up at once, naming the wait, when the server asks for longer than we may wait."""
    if retry_after is not None and retry_after > max_wait_s:
        raise ModelError(
            f"model API asked to wait {retry_after:g} s before retrying ({reason}), longer than "
            f"model.max_retry_wait_s ({max_wait_s:g} s); try again later or raise that setting",
            kind="unavailable",
        )


def is_spend_limit(status: int | None, message: str) -> bool:
    """A 429 (or 400/402) that no amount of waiting fixes."""
    lowered = message.lower()
    return status in (400, 402, 429) and any(hint in lowered for hint in SPEND_LIMIT_HINTS)


def parse_retry_after(headers: object) -> float | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = getter(name)
        if raw:
            try:
                return float(raw) * scale
            except ValueError:
                continue
    return None


class CircuitBreaker:
    """Counts consecutive failed attempts across requests; open means stop calling.

    After `cooldown_s` it lets one request through again (half-open), so an outage ends
    the turns that hit it without killing a long interactive session for good.
    """

    def __init__(self, threshold: int, cooldown_s: float = 30.0) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self.failures = 0
        self._last_failure = 0.0

    @property
    def open(self) -> bool:
        if self.failures < self.threshold:
            return False
        return time.monotonic() - self._last_failure < self.cooldown_s

    def record_failure(self) -> None:
        self.failures += 1
        self._last_failure = time.monotonic()

    def record_success(self) -> None:
        self.failures = 0
