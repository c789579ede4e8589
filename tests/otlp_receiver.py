"""A real OTLP/HTTP receiver for tests: decodes the protobuf payloads the SDK's exporters send."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class Received:
    spans: list[Any] = field(default_factory=list)
    metrics: list[Any] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)


def attributes(items: Any) -> dict[str, Any]:
    """OTLP KeyValue list as a plain dict."""
    out: dict[str, Any] = {}
    for item in items:
        value = item.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            out[item.key] = [getattr(v, v.WhichOneof("value")) for v in value.array_value.values]
        else:
            out[item.key] = getattr(value, kind) if kind else None
    return out


class OTLPReceiver:
    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.endswith("/v1/traces"):
                    request = ExportTraceServiceRequest.FromString(body)
                    with received.changed:
                        for resource_spans in request.resource_spans:
                            received.resources.append(attributes(resource_spans.resource.attributes))
                            for scope in resource_spans.scope_spans:
                                received.spans.extend(scope.spans)
                        received.changed.notify_all()
                elif self.path.endswith("/v1/metrics"):
                    request = ExportMetricsServiceRequest.FromString(body)
                    with received.changed:
                        for resource_metrics in request.resource_metrics:
                            for scope in resource_metrics.scope_metrics:
                                received.metrics.extend(scope.metrics)
                        received.changed.notify_all()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "OTLPReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans_named(self, prefix: str) -> list[Any]:
        return [span for span in self.received.spans if span.name.startswith(prefix)]

    def metric(self, name: str) -> list[Any]:
        """Every data point reported for the metric `name` (sums and histograms)."""
        points = []
        for metric in self.received.metrics:
            if metric.name == name:
                data = getattr(metric, metric.WhichOneof("data"))
                points.extend(data.data_points)
        return points
