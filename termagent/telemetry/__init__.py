"""OpenTelemetry export of sessions: traces and metrics of every turn, request, tool call,
subagent and compaction, built from the core's events.

Off and free unless asked for: nothing under `opentelemetry` is imported until
`OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific one), `OTEL_TRACES_EXPORTER=console`
or `[telemetry] enabled = true` says so. The standard OTEL_* variables work as the SDK
defines them. Export is batched in the SDK's own threads, so a slow or dead collector never
slows a turn; closing waits for it at most `[telemetry] flush_timeout_s` (2 s).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from termagent.config import Config
    from termagent.core.bus import EventBus

ENABLING_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(config: "Config") -> bool:
    if any(os.environ.get(name, "").strip() for name in ENABLING_VARIABLES):
        return True
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        return True
    return bool(config.get("telemetry", "enabled"))


def attach(bus: "EventBus", config: "Config") -> Callable[[], Awaitable[None]]:
    """Start exporting this session's events; returns the closer that flushes (bounded)."""
    from termagent.telemetry.export import Exporters
    from termagent.telemetry.recorder import Recorder

    exporters = Exporters.from_environment()
    recorder = Recorder(exporters.tracer(), exporters.instruments(), bool(config.get("telemetry", "log_content")))
    unlisten = bus.listen(recorder.handle)

    async def close() -> None:
        import asyncio

        unlisten()
        recorder.close_open_spans()
        await asyncio.to_thread(exporters.shutdown, float(config.get("telemetry", "flush_timeout_s")))

    return close
