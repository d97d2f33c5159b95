"""OTLP spans → bus records: pure functions, every bound a received span must keep.

The record has the shape `swarmsh.telemetry.encoding.span_to_record` gives a span of our own
(DESIGN.md, "Span record"), plus `scope` (the instrumentation scope's name and version).
A span that breaks a bound is rejected with the reason, never cut down to fit: an agent must
not act on a span that says less than its sender meant.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.bus.records import MAX_EPOCH_S
from swarmsh.safetext import escape, refusal

# The bounds (README, "Receiving OTLP"): what a span may hold to be written to the bus.
MAX_NAME_CHARS = 1024  # span and event names: safe text, 1 to 1024 characters
MAX_KEY_CHARS = 256  # attribute keys: safe text, 1 to 256 characters
MAX_ATTRIBUTES = 128  # per span, event, link, resource and nested key-value list
MAX_STRING_CHARS = 65_536  # a string value, a bytes value (bytes) or a status message
MAX_ARRAY_ITEMS = 1024
MAX_VALUE_DEPTH = 8  # arrays and key-value lists nested in each other
MAX_EVENTS = 128
MAX_LINKS = 128
MAX_EPOCH_NS = int(MAX_EPOCH_S * 1e9)
_NS = 1e9
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_SCALARS = frozenset(("int_value", "bool_value", "double_value"))
KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")


class Unrepresentable(ValueError):
    """A span that cannot go on the bus as it is; the message says why."""


@dataclass(slots=True)
class Converted:
    """One request's spans: the bus lines (with each span's identity, for de-duplication) and
    the spans rejected, as (reason, trace id, span id, name) quoted in the dead letter."""

    lines: list[bytes] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def spans(self) -> int:
        return len(self.lines) + len(self.rejected)


# Names and keys found safe, remembered (boundedly): services repeat the same few thousand,
# and a set lookup costs a tenth of the check. Only texts within the shorter (key) limit are
# remembered, so a remembered text passes either check.
_SAFE: set[str] = set()
_SAFE_MAX = 16_384


def _safe(text: str, limit: int, what: str) -> str:
    if text in _SAFE:
        return text
    if not text or len(text) > limit:
        raise Unrepresentable(f"{what} is empty or longer than {limit} characters")
    if (why := refusal(text)) is not None:
        raise Unrepresentable(f"{what} {why}")
    if len(text) <= MAX_KEY_CHARS:
        if len(_SAFE) >= _SAFE_MAX:
            _SAFE.clear()
        _SAFE.add(text)
    return text


def _name(text: str, what: str) -> str:
    return _safe(text, MAX_NAME_CHARS, what)


def _value(value: Any, depth: int) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        if len(text) > MAX_STRING_CHARS:
            raise Unrepresentable(f"a string value is longer than {MAX_STRING_CHARS} characters")
        return text
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind is None:
        return None
    if depth >= MAX_VALUE_DEPTH:
        raise Unrepresentable(f"values are nested more than {MAX_VALUE_DEPTH} deep")
    if kind == "array_value":
        items = value.array_value.values
        if len(items) > MAX_ARRAY_ITEMS:
            raise Unrepresentable(f"an array holds more than {MAX_ARRAY_ITEMS} values")
        return [_value(item, depth + 1) for item in items]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values, depth + 1)
    if kind == "bytes_value":
        if len(value.bytes_value) > MAX_STRING_CHARS:
            raise Unrepresentable(f"a bytes value is longer than {MAX_STRING_CHARS} bytes")
        return value.bytes_value
    raise Unrepresentable(f"unknown value type {kind}")  # pragma: no cover - proto is closed


def attributes(pairs: Any, depth: int = 0) -> dict[str, Any]:
    """OTLP key-value pairs as a dict of OTel-typed values (the last of a repeated key wins)."""
    if len(pairs) > MAX_ATTRIBUTES:
        raise Unrepresentable(f"{len(pairs)} attributes, more than {MAX_ATTRIBUTES}")
    out: dict[str, Any] = {}
    safe = _SAFE
    for pair in pairs:  # the hot path: scalars and known keys inline, the rest in _value
        key = pair.key
        if key not in safe:
            _safe(key, MAX_KEY_CHARS, "an attribute key")
        value = pair.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            if len(text) > MAX_STRING_CHARS:
                raise Unrepresentable(
                    f"a string value is longer than {MAX_STRING_CHARS} characters"
                )
            out[key] = text
        elif kind in _SCALARS:
            out[key] = getattr(value, kind)
        else:
            out[key] = _value(value, depth)
    return out


def _time(nanos: int, what: str) -> float:
    if nanos > MAX_EPOCH_NS:
        raise Unrepresentable(f"{what} is beyond 2**32 s after the epoch")
    return nanos / _NS


def _span_id(raw: bytes, what: str) -> str:
    if len(raw) != 8 or raw == _ZERO_SPAN:
        raise Unrepresentable(f"{what} is not 8 bytes, not all zero")
    return raw.hex()


def _trace_id(raw: bytes, what: str) -> str:
    if len(raw) != 16 or raw == _ZERO_TRACE:
        raise Unrepresentable(f"{what} is not 16 bytes, not all zero")
    return raw.hex()


def span_record(span: Any, resource: dict[str, Any], scope: dict[str, str]) -> dict[str, Any]:
    """One OTLP span as a bus record; raises `Unrepresentable` when it breaks a bound."""
    return {**span_fields(span), "resource": resource, "scope": scope}


def span_fields(span: Any) -> dict[str, Any]:
    """The record of one span but its resource and scope (which its request shares)."""
    trace_id = _trace_id(span.trace_id, "trace_id")
    span_id = _span_id(span.span_id, "span_id")
    parent = span.parent_span_id
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end < start:
        raise Unrepresentable("the span ends before it starts")
    status = span.status
    if status.code > 2 or span.kind > 5:
        raise Unrepresentable("the span's status code or kind is not one OTLP defines")
    message = status.message
    if len(message) > MAX_STRING_CHARS:
        raise Unrepresentable(f"the status message is longer than {MAX_STRING_CHARS} characters")
    if len(span.events) > MAX_EVENTS or len(span.links) > MAX_LINKS:
        raise Unrepresentable(f"more than {MAX_EVENTS} events or {MAX_LINKS} links")
    return {
        "name": _name(span.name, "the span name"),
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": _span_id(parent, "parent_span_id") if parent else None,
        "kind": KINDS[span.kind],
        "timestamp": _time(start, "the start"),
        "duration_ms": round((end - start) / 1e6, 3),
        "status": STATUSES[status.code],
        "status_message": message or None,
        "sampled": True,  # sent to us over OTLP: the sender's sampler kept it
        "attributes": attributes(span.attributes) if span.attributes else {},
        "events": [
            {
                "name": _name(e.name, "an event name"),
                "timestamp": _time(e.time_unix_nano, "an event's time"),
                "attributes": attributes(e.attributes) if e.attributes else {},
            }
            for e in span.events
        ],
        "links": [
            {
                "trace_id": _trace_id(link.trace_id, "a link's trace_id"),
                "span_id": _span_id(link.span_id, "a link's span_id"),
                "attributes": attributes(link.attributes) if link.attributes else {},
            }
            for link in span.links
        ],
    }


def _b64(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")  # as OTLP/JSON writes bytes
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _tail(resource: dict[str, Any], scope: dict[str, str]) -> bytes:
    """`,"resource":…,"scope":…}` and the newline: the end every line of a scope shares."""
    encoded = orjson.dumps(resource, default=_b64)
    return b',"resource":' + encoded + b',"scope":' + orjson.dumps(scope) + b"}\n"


def _identity(span: Any) -> tuple[str, str, str]:
    """What a dead letter quotes of a rejected span: ids (hex, bounded) and name (bounded)."""
    return span.trace_id[:16].hex(), span.span_id[:8].hex(), span.name[:200]


def convert(request: ExportTraceServiceRequest, max_line_bytes: int) -> Converted:
    """Every span of `request` as one bus line, or rejected with the reason. A line longer
    than the readers' limit (`SWARMSH_MAX_LINE_BYTES`) is rejected too."""
    out = Converted()
    lines, keys, rejected = out.lines, out.keys, out.rejected
    for resource_spans in request.resource_spans:
        try:
            resource = attributes(resource_spans.resource.attributes)
            resource_error = None
        except Unrepresentable as exc:
            resource, resource_error = {}, f"its resource: {exc}"
        for scope_spans in resource_spans.scope_spans:
            scope = {"name": escape(scope_spans.scope.name[:MAX_NAME_CHARS])}
            if scope_spans.scope.version:
                scope["version"] = escape(scope_spans.scope.version[:MAX_NAME_CHARS])
            tail = _tail(resource, scope)
            for span in scope_spans.spans:
                try:
                    if resource_error is not None:
                        raise Unrepresentable(resource_error)
                    # span_record keeps every bound SpanRecord.from_dict (the agents' reader)
                    # checks, and more; tests/receiver/test_convert.py holds it to that.
                    record = span_fields(span)
                    line = orjson.dumps(record, default=_b64)[:-1] + tail
                    if len(line) > max_line_bytes:
                        raise Unrepresentable(
                            f"its record is {len(line)} bytes, over the readers' limit of "
                            f"{max_line_bytes} (SWARMSH_MAX_LINE_BYTES)"
                        )
                except Unrepresentable as exc:
                    rejected.append((str(exc), *_identity(span)))
                    continue
                lines.append(line)
                keys.append(record["trace_id"] + record["span_id"])
    return out


def rejection_message(rejected: Iterable[tuple[str, str, str, str]]) -> str:
    """partial_success.error_message: how many spans, and the first reason."""
    reasons = [reason for reason, *_ in rejected]
    if not reasons:
        return ""
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{len(reasons)} span(s) rejected: {reasons[0]}{more}"
