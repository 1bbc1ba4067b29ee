"""Turning tracing on and off: a tracer provider with a BatchSpanProcessor and the
OTLP/HTTP exporter, only when an endpoint is configured.

The provider is Synaxis's own (never the process-global one, which an application
embedding Synaxis may own); the propagator is the global one (W3C ``traceparent`` by
default, ``OTEL_PROPAGATORS`` to change it). The exporter reads the standard
``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout, compression, certificates) as
usual; the resource reads ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
(service name ``synaxis`` otherwise).
"""

from __future__ import annotations

import asyncio
from typing import Any

import synaxis_core.telemetry as telemetry
from synaxis_core.settings import Settings

SERVICE_NAME = "synaxis"
TRACES_PATH = "/v1/traces"


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans go, or None (tracing off): ``SYNAXIS_OTEL_ENDPOINT`` (``/v1/traces``
    added unless there), else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as is, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``. ``OTEL_SDK_DISABLED=true`` and
    ``OTEL_TRACES_EXPORTER=none`` keep it off."""
    if (settings.env("OTEL_SDK_DISABLED") or "").strip().lower() == "true":
        return None
    if (settings.env("OTEL_TRACES_EXPORTER") or "").strip().lower() == "none":
        return None
    if settings.otel_endpoint:
        base = settings.otel_endpoint.rstrip("/")
        return base if base.endswith(TRACES_PATH) else base + TRACES_PATH
    traces = settings.env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = settings.env("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + TRACES_PATH if base else None


def configure(settings: Settings) -> Any | None:
    """Turn tracing on when ``settings`` configure an endpoint; returns the provider (to
    ``shutdown``), or None when tracing stays as it was (off, or installed already)."""
    endpoint = traces_endpoint(settings)
    if endpoint is None or telemetry.TRACER is not None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    install(provider, capture_content=settings.otel_capture_content)
    return provider


def install(provider: Any, *, capture_content: bool = False) -> None:
    """Trace with ``provider`` (an SDK ``TracerProvider``; tests give one with an
    in-memory exporter)."""
    from synaxis_core import __version__

    telemetry.TRACER = provider.get_tracer("synaxis", __version__)
    telemetry.CAPTURE_CONTENT = capture_content


def uninstall() -> None:
    """Tracing off again (no span is created from now on)."""
    telemetry.TRACER = None
    telemetry.CAPTURE_CONTENT = False


async def shutdown(provider: Any) -> None:
    """Tracing off, then export what is left and stop the exporter's thread (off the
    event loop: the last export is a blocking HTTP call)."""
    uninstall()
    await asyncio.to_thread(provider.shutdown)
