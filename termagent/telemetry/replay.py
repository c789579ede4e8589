"""`termagent trace SESSION --output otlp-json FILE`: a stored session as an OTLP/JSON trace.

The stored events go through the same Recorder a live session uses, each at the time it
was recorded, so a session run without telemetry can still be looked at in a backend
(Jaeger and others import OTLP/JSON files) after the fact.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Protocol

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from termagent.protocol import from_dict
from termagent.telemetry.export import SCOPE, resource
from termagent.telemetry.instruments import Instruments
from termagent.telemetry.recorder import Recorder

ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class TimedEvents(Protocol):
    def timed_events(self, session_id: str) -> Any: ...


def session_trace(store: TimedEvents, session_id: str, log_content: bool = False) -> dict[str, Any]:
    """The session's spans as an OTLP/JSON ExportTraceServiceRequest."""
    from google.protobuf.json_format import MessageToDict

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource(), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    moment = [0]
    instruments = Instruments.create(MeterProvider(shutdown_on_exit=False).get_meter(SCOPE))
    recorder = Recorder(provider.get_tracer(SCOPE), instruments, log_content, clock=lambda: moment[0])
    for created_at, data in store.timed_events(session_id):
        moment[0] = int(created_at * 1e9)
        try:
            event = from_dict(data)
        except (KeyError, TypeError):  # an event type this version no longer knows
            continue
        recorder.handle(event)  # type: ignore[arg-type]
    recorder.close_open_spans()
    provider.shutdown()
    request = MessageToDict(encode_spans(exporter.get_finished_spans()))
    return _hex_ids(request)


def write_session_trace(store: TimedEvents, session_id: str, path: Path) -> int:
    """Write the trace to `path`; returns how many spans it holds."""
    request = session_trace(store, session_id)
    path.write_text(json.dumps(request, indent=1) + "\n", encoding="utf-8")
    return sum(len(scope.get("spans", [])) for rs in request.get("resourceSpans", [])
               for scope in rs.get("scopeSpans", []))


def _hex_ids(value: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping writes base64."""
    if isinstance(value, dict):
        return {key: (base64.b64decode(item).hex() if key in ID_FIELDS and isinstance(item, str) else _hex_ids(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value
