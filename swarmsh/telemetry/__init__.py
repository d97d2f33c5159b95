"""One telemetry setup for every swarmsh process: tracer, meter, instruments, bus and OTLP."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, Status, TraceFlags, Tracer
from opentelemetry.trace.span import TraceState

from swarmsh import __version__
from swarmsh.config import ENV_CONSOLE, env_flag
from swarmsh.telemetry.bus import BusSpanProcessor
from swarmsh.telemetry.encoding import finished_record, record_from_parts
from swarmsh.telemetry.instruments import Instruments
from swarmsh.telemetry.sampling import RecordAlwaysSampler, sampler_from_env

_log = logging.getLogger(__name__)

INSTRUMENTATION_NAME = "swarmsh"
_SCOPE = InstrumentationScope(INSTRUMENTATION_NAME, __version__)
_CHILD_FLAGS = (TraceFlags(TraceFlags.DEFAULT), TraceFlags(TraceFlags.SAMPLED))  # by sampled
_SAMPLED_BIT = int(TraceFlags.SAMPLED)


@dataclass
class Telemetry:
    """What a process needs to emit spans and metrics, and to flush and stop them."""

    service_name: str
    tracer_provider: TracerProvider
    tracer: Tracer
    bus: BusSpanProcessor
    instruments: Instruments
    # Every span processor of `tracer_provider`, bus first, for `record_span`
    # (add more with `add_span_processor`, not on the provider itself).
    processors: tuple[SpanProcessor, ...] = ()
    meter_provider: Any = None  # an SDK MeterProvider when OTLP is on
    otlp: bool = False
    shutdown_timeout: float = 5.0
    _stopped: bool = field(default=False, repr=False)
    # The sampler's decision for a remote parent is its sampled flag (`record_span`).
    _follows_remote_parent: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        sampler = self.tracer_provider.sampler
        self._follows_remote_parent = isinstance(sampler, RecordAlwaysSampler) and (
            sampler.follows_remote_parent
        )

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a processor that sees every span, `record_span`'s included."""
        self.tracer_provider.add_span_processor(processor)
        self.processors += (processor,)

    def record_span(
        self,
        name: str,
        parent: SpanContext,
        attributes: Mapping[str, Any],
        status: Status,
        start_ns: int,
        links: Sequence[Link] = (),
    ) -> SpanContext:
        """Record a finished child span of `parent` that ends now; return its context.

        The same sampling, ids, resource and processors as `tracer.start_span`,
        without the live-span machinery (locks, attribute cleaning, context
        tokens) that a span with nothing running inside it does not need: an
        agent catching up records one per handled span, and this is five times
        cheaper. When the bus is the only processor, not even the finished SDK
        span is made: the bus gets the record `span_to_record` would give it.
        `attributes` must already be valid OTel attribute values.
        """
        provider = self.tracer_provider
        trace_id = parent.trace_id
        trace_state: TraceState | None
        if self._follows_remote_parent and parent.is_remote:
            # What the sampler would decide, without a Context and a SamplingResult (≈ 2 µs):
            # recorded, sampled as the parent is, the parent's trace state, no attributes.
            flags = _CHILD_FLAGS[parent.trace_flags & _SAMPLED_BIT]
            trace_state = parent.trace_state
        else:
            sampling = provider.sampler.should_sample(
                trace.set_span_in_context(NonRecordingSpan(parent)),
                trace_id,
                name,
                None,
                attributes,
            )
            flags = _CHILD_FLAGS[sampling.decision.is_sampled()]
            trace_state = sampling.trace_state
            if sampling.attributes:
                attributes = {**attributes, **sampling.attributes}
        context = SpanContext(
            trace_id, provider.id_generator.generate_span_id(), False, flags, trace_state
        )
        if len(self.processors) == 1:  # the bus alone: its record, without an SDK span
            self.bus.on_record(
                finished_record(
                    name,
                    context,
                    parent,
                    provider.resource,
                    attributes,
                    status,
                    start_ns,
                    time.time_ns(),
                    links,
                )
            )
            return context
        span = ReadableSpan(
            name,
            context,
            parent,
            provider.resource,
            attributes,
            status=status,
            start_time=start_ns,
            end_time=time.time_ns(),
            instrumentation_scope=_SCOPE,
            links=links,
        )
        for processor in self.processors:
            processor.on_end(span)
        return context

    def record_child(
        self,
        name: str,
        trace_id: str,
        parent_span_id: str,
        parent_sampled: bool,
        attributes: Mapping[str, Any],
        status: Status,
        start_ns: int,
        links: Sequence[Link] = (),
    ) -> tuple[str, bool]:
        """`record_span` for a parent known by a bus record's ids (lowercase hex, valid) and
        its sampled flag: the new span's id in hex and whether it is sampled.

        With the bus as the only processor and a sampler that follows a remote parent's
        flag (the default), neither the parent's nor the child's `SpanContext` is made and
        no id is formatted twice (an agent records one such span per handled span)."""
        if not (self._follows_remote_parent and len(self.processors) == 1):
            flags = _CHILD_FLAGS[parent_sampled]
            parent = SpanContext(int(trace_id, 16), int(parent_span_id, 16), True, flags)
            context = self.record_span(name, parent, attributes, status, start_ns, links)
            return f"{context.span_id:016x}", context.trace_flags.sampled
        provider = self.tracer_provider
        span_id = f"{provider.id_generator.generate_span_id():016x}"
        self.bus.on_record(
            record_from_parts(
                name,
                trace_id,
                span_id,
                parent_span_id,
                parent_sampled,
                provider.resource,
                attributes,
                status,
                start_ns,
                time.time_ns(),
                links,
            )
        )
        return span_id, parent_sampled

    def flush_bus(self, *, keep_on_error: bool = True) -> None:
        """Make every ended span durable on the bus; raises `BusWriteError` if it cannot."""
        self.bus.flush(keep_on_error=keep_on_error)

    def shutdown(self) -> None:
        """Flush the bus, then OTLP within `shutdown_timeout`; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.bus.force_flush()

        def stop_exporters() -> None:
            self.tracer_provider.shutdown()
            if self.meter_provider is not None:
                self.meter_provider.shutdown(timeout_millis=self.shutdown_timeout * 1000)

        if not self.otlp:
            stop_exporters()
            return
        # A slow or unreachable collector must not hold the process up beyond the bound.
        worker = threading.Thread(target=stop_exporters, name="otlp-shutdown", daemon=True)
        worker.start()
        worker.join(self.shutdown_timeout)
        if worker.is_alive():
            _log.warning("OTLP export did not finish within %.1fs; dropped", self.shutdown_timeout)


def _resource(default_service: str) -> Resource:
    attributes: dict[str, Any] = {SERVICE_VERSION: __version__}
    configured = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not configured:
        attributes[SERVICE_NAME] = default_service
    return Resource.create(attributes)


def setup_telemetry(
    service_name: str,
    bus_path: Path,
    *,
    console: bool | None = None,
    otlp: bool | None = None,
    otlp_timeout: float | None = None,
    shutdown_timeout: float = 5.0,
    fsync: str | None = None,
    immediate_bus: bool = False,
) -> Telemetry:
    """Build the tracer and meter providers for one process.

    `console` and `otlp` follow argument > environment > default: console from
    SWARMSH_CONSOLE (off), OTLP on when an OTLP endpoint variable is set. OTLP here is
    metrics only: spans go to the bus alone, and the shipper exports them.
    `otlp_timeout` bounds each OTLP metrics export.
    """
    from swarmsh.telemetry import otlp as otlp_config

    if console is None:
        console = env_flag(ENV_CONSOLE)
    if otlp is None:
        otlp = otlp_config.endpoint_configured()
    resource = _resource(service_name)
    provider = TracerProvider(resource=resource, sampler=sampler_from_env())
    from swarmsh.bus.backend import span_exporter  # the JSONL file, or JetStream (SWARMSH_BUS)

    bus = BusSpanProcessor(span_exporter(bus_path, fsync=fsync), immediate=immediate_bus)
    processors: list[SpanProcessor] = [bus]
    if console:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        from swarmsh.bus.records import dumps_line
        from swarmsh.telemetry.encoding import span_to_record

        processors.append(
            SimpleSpanProcessor(
                ConsoleSpanExporter(
                    out=sys.stdout,
                    formatter=lambda span: dumps_line(span_to_record(span)).decode(),
                )
            )
        )
    meter_provider = None
    if otlp:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        # Metrics only: spans leave through the bus and the shipper (DESIGN.md).
        reader = PeriodicExportingMetricReader(otlp_config.metric_exporter(otlp_timeout))
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meter_provider.get_meter(INSTRUMENTATION_NAME, __version__)
    else:
        from opentelemetry.metrics import NoOpMeter

        meter = NoOpMeter(INSTRUMENTATION_NAME)
    for processor in processors:
        provider.add_span_processor(processor)
    return Telemetry(
        service_name=service_name,
        tracer_provider=provider,
        tracer=provider.get_tracer(INSTRUMENTATION_NAME, __version__),
        bus=bus,
        instruments=Instruments.create(meter),
        processors=tuple(processors),
        meter_provider=meter_provider,
        otlp=otlp,
        shutdown_timeout=shutdown_timeout,
    )
