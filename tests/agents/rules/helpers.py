"""Spans and rules for the rules agent's tables."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from swarmsh.agents.rules.engine import CompiledRule, compile_rule
from swarmsh.agents.rules.load import parse_rulebook
from swarmsh.agents.rules.replay import Firing, Replay
from swarmsh.bus.records import SpanRecord

T0 = 1_764_000_000.0


def span(
    t: float = 0.0,
    name: str = "http.server.request",
    status: str = "ERROR",
    service: str = "checkout",
    n: int | None = None,
    kind: str = "SERVER",
    duration_ms: float = 5.0,
    resource: dict[str, Any] | None = None,
    **attributes: Any,
) -> SpanRecord:
    """A span at T0 + t seconds; ids derived from `n` (else from t and the name)."""
    seed = f"{n if n is not None else (t, name, service)}".encode()
    digest = hashlib.sha256(seed).hexdigest()
    return SpanRecord(
        name=name,
        trace_id=digest[:32],
        span_id=digest[32:48],
        parent_span_id=None,
        timestamp=T0 + t,
        duration_ms=duration_ms,
        kind=kind,
        status=status,
        attributes=dict(attributes),
        resource={"service.name": service} if resource is None else resource,
    )


def rules(yaml_text: str) -> list[CompiledRule]:
    return [compile_rule(r) for r in parse_rulebook(yaml_text, "test.yaml").rules]


def fire(yaml_text: str, spans: list[SpanRecord]) -> list[Firing]:
    return list(Replay.of(rules(yaml_text)).feed(spans))


def rule(match: str, extra: str = "", action: str = "") -> str:
    """One rule named r with `match` (YAML flow mapping) and a lean define action."""
    return f"""
rules:
  - name: r
    match: {match}
{extra}
    then:
      command: swarmsh.lean.define
      args: {{project: "p-{{count}}", problem: "{{group}} {action}"}}
"""


def write_service_spans(
    bus: Path, spans: list[tuple[str, str, float, dict[str, Any]]], service: str = "checkout"
) -> list[SpanRecord]:
    """Spans of another service, made by the real OpenTelemetry SDK and written by swarmsh's bus
    exporter: (name, status, seconds after T0, attributes). Returns them as the bus has them."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from swarmsh.telemetry.bus import BusSpanExporter, BusSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BusSpanProcessor(BusSpanExporter(bus)))
    tracer = provider.get_tracer(service)
    made = []
    for name, status, t, attributes in spans:
        start = int((T0 + t) * 1e9)
        span = tracer.start_span(
            name, kind=SpanKind.SERVER, attributes=attributes, start_time=start
        )
        span.set_status(Status(StatusCode[status]))
        span.end(end_time=start + 2_000_000)
        made.append(span)
    provider.shutdown()
    ids = {format(s.get_span_context().span_id, "016x") for s in made}
    from tests.conftest import read_jsonl

    return [SpanRecord.from_dict(r) for r in read_jsonl(bus) if r["span_id"] in ids]
