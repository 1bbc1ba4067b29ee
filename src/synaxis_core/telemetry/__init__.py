"""OpenTelemetry traces: off unless configured, and then free of cost when off.

``TRACER`` is None until ``telemetry.setup.configure`` (``SYNAXIS_OTEL_ENDPOINT`` or the
standard ``OTEL_EXPORTER_OTLP_*`` variables) or ``telemetry.setup.install`` (tests) sets
it. The hot path checks ``telemetry.TRACER is not None`` once per step and otherwise
creates no span and calls nothing here: that check is all tracing costs when it is off.

When on: one server span per request (``runtime.pipeline``), one client span per
upstream attempt (``routing.router``), with the OpenTelemetry GenAI semantic
conventions and Synaxis's own attributes (``telemetry.spans``); a BatchSpanProcessor
exports them over OTLP/HTTP from its own thread, so a request never waits for it.
"""

from __future__ import annotations

from typing import Any

TRACER: Any = None
"""The ``opentelemetry.trace.Tracer`` when tracing is on, else None."""
CAPTURE_CONTENT = False
"""Record message contents (``SYNAXIS_OTEL_CAPTURE_CONTENT``); never by default."""
