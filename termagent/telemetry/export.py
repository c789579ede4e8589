"""Providers and exporters as the OTEL_* environment asks for them (SDK classes, no exporter of ours)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from termagent.telemetry.instruments import Instruments

SCOPE = "termagent"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("termagent")
    except PackageNotFoundError:
        return "0"


def resource() -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; termagent is only the default name."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    base: dict[str, Any] = {SERVICE_VERSION: _version()}
    if not named:
        base[SERVICE_NAME] = "termagent"
    return Resource.create(base)


def _protocol(signal: str) -> str:
    return (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf").strip().lower()


def span_exporter() -> SpanExporter | None:
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=_stderr())
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

        return GrpcSpans()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def metric_exporter() -> MetricExporter | None:
    kind = os.environ.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower()
    if kind == "none" or (kind == "otlp" and not _otlp_endpoint("METRICS")):
        return None
    if kind == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=_stderr())
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics

        return GrpcMetrics()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def _otlp_endpoint(signal: str) -> str:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")


def _stderr() -> Any:
    """Console export goes to stderr: stdout belongs to the answer (headless) or the protocol (ACP)."""
    import sys

    return sys.stderr


@dataclass
class Exporters:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @classmethod
    def from_environment(cls) -> "Exporters":
        shared = resource()
        tracer_provider = TracerProvider(resource=shared, shutdown_on_exit=False)
        spans = span_exporter()
        if spans is not None:
            tracer_provider.add_span_processor(BatchSpanProcessor(spans))
        metrics = metric_exporter()
        readers = [PeriodicExportingMetricReader(metrics)] if metrics is not None else []
        meter_provider = MeterProvider(resource=shared, metric_readers=readers, shutdown_on_exit=False)
        return cls(tracer_provider, meter_provider)

    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer(SCOPE, _version())

    def meter(self) -> Meter:
        return self.meter_provider.get_meter(SCOPE, _version())

    def instruments(self) -> Instruments:
        return Instruments.create(self.meter())

    def shutdown(self, bound_s: float) -> None:
        """Flush and stop, waiting at most `bound_s`: a dead collector costs the exit no more."""
        worker = threading.Thread(target=self._shutdown, name="termagent-otel-shutdown", daemon=True)
        worker.start()
        worker.join(bound_s)

    def _shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
