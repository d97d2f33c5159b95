"""Bus and queue line formats: `SpanRecord` (one span) and `NextCommand` (one queued action)."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import orjson

from swarmsh.errors import MalformedRecord

_HEX = frozenset("0123456789abcdef")
_EMPTY: dict[str, Any] = {}
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
# Bounds every reader applies, so that whatever it accepts, agents and operator commands can
# use: a hop count (the registry's swarm.loop.depth says the same), and times within an epoch
# range `datetime` and every CLI can print (1970 to 2106, unsigned 32-bit seconds).
MAX_DEPTH = 1_000_000
MAX_EPOCH_S = float(2**32)
MAX_DURATION_MS = MAX_EPOCH_S * 1000.0


def _is_hex_id(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and _HEX.issuperset(value)


def _is_number(value: object) -> bool:
    # bool is an int subclass; a bool timestamp is a type error, not a number.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(value: object, high: float) -> bool:
    """A number from 0 to `high` (a time, a duration, a depth)."""
    return _is_number(value) and 0 <= value <= high  # type: ignore[operator]


def loads_object(line: bytes) -> dict[str, Any]:
    """Parse one JSONL line into a JSON object, or raise `MalformedRecord` saying why."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason = "invalid UTF-8" if "utf-8" in str(exc).lower() else f"not JSON: {exc}"
        raise MalformedRecord(reason) from None
    except RecursionError:
        raise MalformedRecord("not JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise MalformedRecord(f"not a JSON object but a {type(value).__name__}")
    # Duplicate keys would let two parsers read one line two ways. A line that is, but for
    # whitespace, what it was read as written again has that value's members and no more:
    # none repeated. (Spaces inside strings drop from both sides alike, and never change
    # where a token ends, so the two have the same structure.) Our writer's compact lines
    # and lines written with `json.dumps`'s separators pass so in ≈ 0.5 µs; anything else
    # (escapes, other number syntax) gets the exact check.
    try:
        written = orjson.dumps(value)
    except TypeError:  # nested deeper than orjson writes (it reads deeper): the exact check
        written = b""
    if written != line.strip() and written.translate(None, b" ") != line.translate(None, _BLANKS):
        _reject_duplicate_keys(line)
    return value


_BLANKS = b" \t\r\n"  # JSON's whitespace; only a space may stand unescaped inside a string


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [k for k, _ in pairs]
        duplicate = next(k for k in keys if keys.count(k) > 1)
        raise MalformedRecord(f"duplicate key {duplicate!r}")
    return value


def _reject_duplicate_keys(line: bytes) -> None:
    try:
        json.loads(line, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        pass  # orjson accepted it; a difference in number syntax is not our concern


# The bounds of from_dict, as field types msgspec checks while it decodes; that the ids are
# lowercase hex, and not zero, is checked after (a pattern there costs 0.7 µs a record).
_TraceId = Annotated[str, msgspec.Meta(min_length=32, max_length=32)]
_SpanId = Annotated[str, msgspec.Meta(min_length=16, max_length=16)]
_HEX_DIGITS = "0123456789abcdef"
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_Epoch = Annotated[float, msgspec.Meta(ge=0, le=MAX_EPOCH_S)]
_Duration = Annotated[float, msgspec.Meta(ge=0, le=MAX_DURATION_MS)]


class SpanRecord(msgspec.Struct, kw_only=True, gc=False):
    """One span as it stands on the bus (see DESIGN.md, "Span record"); read-only by
    convention.

    `from_json` decodes and checks a line in one C pass (msgspec) against the bounds the
    field types state, which are exactly the checks of `from_dict`; whatever that pass
    refuses is read again by `from_dict`, which is the authority on what is malformed and
    why, so both accept and refuse the same lines with the same reasons. Fields are in the
    order our writer puts them (`telemetry.encoding.finished_record`), which lets the
    duplicate-key check compare the line with the record written again.
    """

    name: Annotated[str, msgspec.Meta(min_length=1)]
    trace_id: _TraceId
    span_id: _SpanId
    parent_span_id: _SpanId | None = None
    kind: str = "INTERNAL"
    timestamp: _Epoch
    duration_ms: _Duration = 0.0
    status: str = "UNSET"
    status_message: str | None = None
    sampled: Any = True  # anything but false means sampled (normalised to a bool)
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    events: list[Any] = msgspec.field(default_factory=list)
    links: list[Any] = msgspec.field(default_factory=list)
    resource: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def end(self) -> float:
        """End time in epoch seconds."""
        return self.timestamp + self.duration_ms / 1000.0

    @property
    def service(self) -> str:
        return str(self.resource.get("service.name", "?"))

    @classmethod
    def from_json(cls, line: bytes) -> SpanRecord:
        try:
            record = _DECODE_SPAN(line)
        except (msgspec.DecodeError, ValueError, RecursionError):
            # not JSON, a field out of bounds, nested too deeply: from_dict says which
            return cls.from_dict(loads_object(line))
        ids = record.trace_id + record.span_id + (record.parent_span_id or "")
        if ids.strip(_HEX_DIGITS) or _ZERO_TRACE == record.trace_id or _ZERO_SPAN == record.span_id:
            return cls.from_dict(loads_object(line))  # raises, saying which id is wrong
        written = _ENCODE(record)
        if written != line.strip() and written.translate(None, b" ") != line.translate(
            None, _BLANKS
        ):
            # Another key order or number syntax, fields left out, escapes, or a key given
            # twice (which msgspec does not refuse): today's check, on the parsed line.
            loads_object(line)
        if record.sampled is not True:
            record.sampled = record.sampled is not False
        return record

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SpanRecord:
        """Validate the fields readers depend on; unknown keys are ignored."""
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise MalformedRecord("field 'name' missing or not a non-empty string")
        if not _is_hex_id(raw.get("trace_id"), 32) or raw["trace_id"] == "0" * 32:
            raise MalformedRecord("field 'trace_id' missing or not 32 lowercase hex digits")
        if not _is_hex_id(raw.get("span_id"), 16) or raw["span_id"] == "0" * 16:
            raise MalformedRecord("field 'span_id' missing or not 16 lowercase hex digits")
        parent = raw.get("parent_span_id")
        if parent is not None and not _is_hex_id(parent, 16):
            raise MalformedRecord("field 'parent_span_id' is neither null nor 16 hex digits")
        timestamp = raw.get("timestamp")
        if not _in_range(timestamp, MAX_EPOCH_S):
            raise MalformedRecord("field 'timestamp' missing or not epoch seconds from 0 to 2**32")
        duration = raw.get("duration_ms", 0.0)
        if not _in_range(duration, MAX_DURATION_MS):
            raise MalformedRecord("field 'duration_ms' is not a number from 0 to 2**32 s in ms")
        attributes = raw.get("attributes", _EMPTY)
        if not isinstance(attributes, dict):
            raise MalformedRecord("field 'attributes' is not an object")
        for key in ("kind", "status"):
            if not isinstance(raw.get(key, ""), str):
                raise MalformedRecord(f"field {key!r} is not a string")
        status_message = raw.get("status_message")
        if status_message is not None and not isinstance(status_message, str):
            raise MalformedRecord("field 'status_message' is neither null nor a string")
        events, links, resource = (
            raw.get("events", []),
            raw.get("links", []),
            raw.get("resource", {}),
        )
        if not isinstance(events, list) or not isinstance(links, list):
            raise MalformedRecord("field 'events' or 'links' is not a list")
        if not isinstance(resource, dict):
            raise MalformedRecord("field 'resource' is not an object")
        return cls(
            name=name,
            trace_id=raw["trace_id"],
            span_id=raw["span_id"],
            parent_span_id=parent,
            timestamp=float(timestamp),  # type: ignore[arg-type]
            duration_ms=float(duration),
            kind=raw.get("kind", "INTERNAL"),
            status=raw.get("status", "UNSET"),
            status_message=status_message,
            attributes=attributes,
            events=events,
            links=links,
            resource=resource,
            sampled=raw.get("sampled") is not False,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "kind": self.kind,
            "timestamp": self.timestamp,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "status_message": self.status_message,
            "attributes": self.attributes,
            "events": self.events,
            "links": self.links,
            "resource": self.resource,
            "sampled": self.sampled,
        }


# One C pass: decode the line and check every field's type and bounds (see SpanRecord).
_DECODE_SPAN = msgspec.json.Decoder(SpanRecord).decode
_ENCODE = msgspec.json.Encoder().encode

_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
_ORJSON_INTS = range(-(2**63), 2**64)  # what orjson can write as a number


def _json_default(value: Any) -> Any:
    # What OTel attributes may hold beyond JSON's types: bytes are written as base64, as
    # OTLP/JSON writes them; read-only mappings as objects.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _wide_ints_as_strings(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value not in _ORJSON_INTS:
        return str(value)
    if isinstance(value, Mapping):
        return {k: _wide_ints_as_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wide_ints_as_strings(v) for v in value]
    return value


def dumps_line(value: Mapping[str, Any]) -> bytes:
    """One JSONL line (with its newline). Non-finite floats become null, as JSON demands;
    bytes become base64; an int beyond 64 bits (which OTLP cannot carry either) its
    decimal string."""
    try:
        return orjson.dumps(value, default=_json_default, option=_LINE)
    except orjson.JSONEncodeError:
        # Perhaps an int orjson cannot write; anything else fails again here, and is raised.
        return orjson.dumps(_wide_ints_as_strings(value), default=_json_default, option=_LINE)


class CommandSource(msgspec.Struct, frozen=True, gc=False):
    """The span a NextCommand reacts to."""

    trace_id: str
    span_id: str
    end: float


class NextCommand(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One action an agent asks for (see DESIGN.md, "NextCommand"). (Frozen msgspec Structs,
    like CommandSource: an agent makes one per command, and their init is C.)"""

    id: str
    command: str
    args: dict[str, Any]
    reason: str
    agent: str
    source: CommandSource
    traceparent: str
    depth: int
    created_at: float

    @classmethod
    def from_json(cls, line: bytes) -> NextCommand:
        return cls.from_dict(loads_object(line))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NextCommand:
        for key in ("id", "command", "agent", "traceparent"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise MalformedRecord(f"field {key!r} missing or not a non-empty string")
        if not _TRACEPARENT.fullmatch(raw["traceparent"]):
            raise MalformedRecord(
                "field 'traceparent' is not a W3C traceparent (00-trace-span-flags)"
            )
        if not isinstance(raw.get("args"), dict):
            raise MalformedRecord("field 'args' missing or not an object")
        depth = raw.get("depth")
        if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= MAX_DEPTH:
            raise MalformedRecord(f"field 'depth' missing or not a whole number 0-{MAX_DEPTH}")
        source = raw.get("source")
        if not isinstance(source, dict):
            raise MalformedRecord("field 'source' missing or not an object")
        if not _is_hex_id(source.get("trace_id"), 32) or not _is_hex_id(source.get("span_id"), 16):
            raise MalformedRecord("field 'source' lacks a valid trace_id and span_id")
        if not _in_range(source.get("end"), 2 * MAX_EPOCH_S):  # a span's end: start + duration
            raise MalformedRecord("field 'source.end' missing or not epoch seconds from 0")
        created_at = raw.get("created_at", 0.0)
        if not _in_range(created_at, MAX_EPOCH_S):
            raise MalformedRecord("field 'created_at' is not epoch seconds from 0 to 2**32")
        reason = raw.get("reason", "")
        if not isinstance(reason, str):
            raise MalformedRecord("field 'reason' is not a string")
        return cls(
            id=raw["id"],
            command=raw["command"],
            args=raw["args"],
            reason=reason,
            agent=raw["agent"],
            source=CommandSource(source["trace_id"], source["span_id"], float(source["end"])),
            traceparent=raw["traceparent"],
            depth=depth,
            created_at=float(created_at),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "args": self.args,
            "reason": self.reason,
            "agent": self.agent,
            "source": {
                "trace_id": self.source.trace_id,
                "span_id": self.source.span_id,
                "end": self.source.end,
            },
            "traceparent": self.traceparent,
            "depth": self.depth,
            "created_at": self.created_at,
        }
