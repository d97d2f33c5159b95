"""Turns an SDK span into the bus record of DESIGN.md ("Span record")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

_NS = 1e9
# An enum's .name is a property (≈ 0.2 µs); a dict look-up is not. An agent records one
# span per handled span.
_STATUS_NAMES = {code: code.name for code in StatusCode}


def _attrs(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    # Sequences stay sequences (tuples serialise as JSON arrays); scalars as they are.
    return dict(attributes) if attributes else {}


_resources: dict[int, tuple[Resource, dict[str, Any]]] = {}


def _resource(resource: Resource) -> dict[str, Any]:
    # One provider, one resource: encode it once, not once per span.
    cached = _resources.get(id(resource))
    if cached is None or cached[0] is not resource:
        cached = _resources[id(resource)] = (resource, _attrs(resource.attributes))
    return cached[1]


def span_to_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None, "an ended SDK span always has a context"
    start = span.start_time or 0
    record = finished_record(
        span.name,
        ctx,
        span.parent,
        span.resource,
        span.attributes,
        span.status,
        start,
        span.end_time or start,
        span.links,
        span.kind.name,
    )
    if span.events:
        record["events"] = [
            {"name": e.name, "timestamp": e.timestamp / _NS, "attributes": _attrs(e.attributes)}
            for e in span.events
        ]
    return record


def finished_record(
    name: str,
    context: SpanContext,
    parent: SpanContext | None,
    resource: Resource,
    attributes: Mapping[str, Any] | None,
    status: Status,
    start_ns: int,
    end_ns: int,
    links: Sequence[Link] = (),
    kind: str = "INTERNAL",
) -> dict[str, Any]:
    """The record of a finished span without events, from its parts: what `span_to_record`
    gives for the SDK span made of them, without making one (`Telemetry.record_span`)."""
    return record_from_parts(
        name,
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
        f"{parent.span_id:016x}" if parent else None,
        context.trace_flags.sampled,
        resource,
        attributes,
        status,
        start_ns,
        end_ns,
        links,
        kind,
    )


def record_from_parts(
    name: str,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    sampled: bool,
    resource: Resource,
    attributes: Mapping[str, Any] | None,
    status: Status,
    start_ns: int,
    end_ns: int,
    links: Sequence[Link] = (),
    kind: str = "INTERNAL",
) -> dict[str, Any]:
    """`finished_record` with the ids already in lowercase hex, as a bus record holds them
    (`Telemetry.record_child`: an agent's parent comes from one)."""
    return {
        "name": name,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent_span_id,
        "kind": kind,
        "timestamp": start_ns / _NS,
        # milliseconds to three places, in integers (round() of a float costs 4x as much)
        "duration_ms": ((end_ns - start_ns) + 500) // 1000 / 1000,
        "status": _STATUS_NAMES[status.status_code],
        "status_message": status.description,
        "sampled": sampled,
        # a plain dict as it is (the record is encoded at once; one copy less a span)
        "attributes": attributes if type(attributes) is dict else _attrs(attributes),
        "events": [],
        "links": [
            {
                "trace_id": f"{link.context.trace_id:032x}",
                "span_id": f"{link.context.span_id:016x}",
                "attributes": _attrs(link.attributes),
            }
            for link in links
        ]
        if links
        else [],
        "resource": _resource(resource),
    }
