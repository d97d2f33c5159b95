"""Bus records → an OTLP ExportTraceServiceRequest's bytes: pure functions, no I/O.

A record becomes one `Span` (encoded at once, in `wire`'s protobuf); spans sharing a resource
and scope share one `ResourceSpans`/`ScopeSpans` in the request. A line whose record OTLP cannot
carry raises `MalformedRecord` (the follower dead-letters it); an unsampled record encodes to
None. Times: the bus holds float epoch seconds, exact to the microsecond; so are the OTLP ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from swarmsh import __version__
from swarmsh.bus.records import loads_object
from swarmsh.errors import MalformedRecord
from swarmsh.shipper.wire import enum, field, fixed64, key_values, text

# Records our own processes write carry no scope: theirs is the tracer's, "swarmsh".
DEFAULT_SCOPE: dict[str, str] = {"name": "swarmsh", "version": __version__}
KINDS = {"UNSPECIFIED": 0, "INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUSES = {"UNSET": 0, "OK": 1, "ERROR": 2}


class Encoded(NamedTuple):
    """One sampled record's `Span` bytes, with the (resource, scope) group it belongs to."""

    group: bytes
    resource: Mapping[str, Any]
    scope: Mapping[str, Any]
    span: bytes


def _id(record: Mapping[str, Any], key: str, length: int) -> bytes:
    raw = record.get(key)
    try:
        value = bytes.fromhex(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = b""
    if len(value) != length:
        raise MalformedRecord(f"{key} is not {length * 2} hex digits")
    return value


def _nanos(seconds: Any, what: str) -> int:
    """Whole microseconds, in nanoseconds: what a float of epoch seconds holds exactly."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise MalformedRecord(f"{what} is not a number")
    if not math.isfinite(seconds) or seconds < 0 or seconds > 1e10:
        raise MalformedRecord(f"{what} is not a time")
    return round(seconds * 1e6) * 1000


def _event(event: Any) -> bytes:
    if not isinstance(event, dict) or not isinstance(event.get("name"), str):
        raise MalformedRecord("an event is not an object with a name")
    return (
        fixed64(1, _nanos(event.get("timestamp", 0), "an event's timestamp"))
        + text(2, event["name"])
        + key_values(event.get("attributes") or {}, 3)
    )


def _link(link: Any) -> bytes:
    if not isinstance(link, dict):
        raise MalformedRecord("a link is not an object")
    return (
        field(1, _id(link, "trace_id", 16))
        + field(2, _id(link, "span_id", 8))
        + key_values(link.get("attributes") or {}, 4)
    )


def record_span(record: Mapping[str, Any]) -> bytes:
    """The OTLP `Span` message a bus record stands for; `MalformedRecord` if it cannot be one."""
    name = record.get("name")
    if not isinstance(name, str):
        raise MalformedRecord("name is not a string")
    kind = KINDS.get(record.get("kind") or "INTERNAL")
    code = STATUSES.get(record.get("status") or "UNSET")
    message = record.get("status_message") or ""
    if kind is None or code is None or not isinstance(message, str):
        raise MalformedRecord("kind, status or status_message is not OTLP's")
    start = _nanos(record.get("timestamp"), "timestamp")
    duration = record.get("duration_ms") or 0
    end = start + _nanos(duration / 1000 if _is_number(duration) else None, "duration_ms")
    parent = record.get("parent_span_id")
    status = text(2, message) + enum(3, code)
    return b"".join(
        (
            field(1, _id(record, "trace_id", 16)),
            field(2, _id(record, "span_id", 8)),
            field(4, _id(record, "parent_span_id", 8)) if parent is not None else b"",
            text(5, name),
            enum(6, kind),
            fixed64(7, start),
            fixed64(8, end),
            key_values(record.get("attributes") or {}, 9),
            *(field(11, _event(e)) for e in _list(record, "events")),
            *(field(13, _link(link)) for link in _list(record, "links")),
            field(15, status) if status else b"",
        )
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    value = record.get(key) or []
    if not isinstance(value, list):
        raise MalformedRecord(f"{key} is not a list")
    return value


def encode_line(line: bytes) -> Encoded | None:
    """A bus line as an `Encoded` span; None if its trace was not sampled (`sampled: false`)."""
    record = loads_object(line)
    if record.get("sampled") is False:
        return None
    resource = record.get("resource") or {}
    scope = record.get("scope") or DEFAULT_SCOPE
    if not isinstance(resource, dict) or not isinstance(scope, dict):
        raise MalformedRecord("resource or scope is not a JSON object")
    span = record_span(record)
    group = orjson.dumps([resource, scope], option=orjson.OPT_SORT_KEYS)
    return Encoded(group, resource, scope, span)


def _scope(scope: Mapping[str, Any]) -> bytes:
    return text(1, str(scope.get("name") or "")) + text(2, str(scope.get("version") or ""))


def encode_batch(spans: Iterable[Encoded]) -> bytes:
    """The serialized ExportTraceServiceRequest holding `spans`, grouped by resource and
    scope in the order each group first appears: the body both HTTP and gRPC send."""
    groups: dict[bytes, tuple[Encoded, list[bytes]]] = {}
    for item in spans:
        group = groups.get(item.group)
        if group is None:
            group = groups[item.group] = (item, [])
        group[1].append(field(2, item.span))
    out = []
    for first, encoded in groups.values():
        scope_spans = field(1, _scope(first.scope)) + b"".join(encoded)
        resource = field(1, key_values(first.resource, 1))
        out.append(field(1, resource + field(2, scope_spans)))
    return b"".join(out)
