"""Protobuf wire format for the OTLP trace messages, written straight from bus values.

Cheaper than building `opentelemetry-proto` message objects (about 5 KB of Python wrappers
per span) and serialising them: each field is a tag, a length or value, and bytes. Field
numbers are those of opentelemetry/proto/{trace,common,resource}/v1/*.proto and
collector/trace/v1/trace_service.proto; tests/shipper parses the result with the official
classes. A value OTLP cannot carry raises `MalformedRecord`.
"""

from __future__ import annotations

import struct
from typing import Any

from swarmsh.errors import MalformedRecord

MAX_DEPTH = 8
_INT64 = 1 << 64
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    if value < 128:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes and embedded messages."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def fixed64(number: int, value: int) -> bytes:
    return varint(number << 3 | 1) + _pack_fixed64(value)


def enum(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value) if value else b""


def text(number: int, value: str) -> bytes:
    return field(number, value.encode()) if value else b""


def any_value(value: Any, depth: int = 0) -> bytes:
    """An AnyValue message; a oneof member is written even when it is zero (it says which)."""
    if isinstance(value, str):
        data = value.encode()
        return b"\x0a" + varint(len(data)) + data
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not -(1 << 63) <= value < 1 << 63:
            raise MalformedRecord(f"an integer attribute is beyond 64 bits: {value}")
        return b"\x18" + varint(value % _INT64)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if value is None:
        return b""
    if depth >= MAX_DEPTH:
        raise MalformedRecord(f"attribute values nested more than {MAX_DEPTH} deep")
    if isinstance(value, list):
        return field(5, b"".join(field(1, any_value(v, depth + 1)) for v in value))
    if isinstance(value, dict):
        return field(6, key_values(value, 1, depth + 1))
    raise MalformedRecord(f"an attribute value of type {type(value).__name__}")


# (field, key, type, value) → the encoded field: agents repeat the same few hundred attributes.
_KV_CACHE: dict[tuple[int, str, type, Any], bytes] = {}
_KV_CACHE_MAX = 8192
_CACHEABLE = (str, bool, int, float)


def key_values(attributes: Any, number: int, depth: int = 0) -> bytes:
    """Repeated KeyValue field `number` of a message, from a JSON object."""
    if not isinstance(attributes, dict):
        raise MalformedRecord("attributes are not a JSON object")
    parts = []
    cache = _KV_CACHE
    for key, value in attributes.items():
        kind = type(value)
        short = kind in _CACHEABLE and (kind is not str or len(value) <= 64)
        if short and (hit := cache.get((number, key, kind, value))) is not None:
            parts.append(hit)
            continue
        encoded = field(number, text(1, key) + field(2, any_value(value, depth)))
        if short:
            if len(cache) >= _KV_CACHE_MAX:
                cache.clear()
            cache[(number, key, kind, value)] = encoded
        parts.append(encoded)
    return b"".join(parts)
