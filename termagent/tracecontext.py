"""W3C trace context handed to the programs termagent starts (sandbox commands, hooks).

Standard library only, so the sandbox and the hook runner can read it without importing
OpenTelemetry: the telemetry listener sets the value while a tool call runs (the event is
emitted in that call's own task, so the value stays with it), and whoever starts a process
adds it to that process's environment as TRACEPARENT.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

TRACEPARENT = ContextVar("termagent_traceparent", default="")
_VALID = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def current_traceparent() -> str:
    """The traceparent of the span now running ('' when telemetry is off)."""
    return TRACEPARENT.get()


def inherited_traceparent() -> str:
    """A caller's trace (a CI pipeline's TRACEPARENT), when it is well formed."""
    value = os.environ.get("TRACEPARENT", "").strip().lower()
    return value if _VALID.match(value) else ""


def with_traceparent(env: dict[str, str]) -> dict[str, str]:
    """`env` plus the running span's TRACEPARENT, when there is one."""
    value = current_traceparent()
    return {**env, "TRACEPARENT": value} if value else env
