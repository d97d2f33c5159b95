"""Request bodies → `ExportTraceServiceRequest`: gzip within a bound, protobuf or OTLP/JSON.

Pure functions; every failure is a `RequestError` that says what the sender must change.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.receiver.outcome import INVALID, TOO_LARGE, UNSUPPORTED, RequestError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = (PROTOBUF, JSON)


def gunzip(body: bytes, limit: int) -> bytes:
    """`body` decompressed, refused once it would exceed `limit` bytes (a gzip bomb costs
    at most `limit` bytes of memory and the work to produce them)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise RequestError(INVALID, f"the body is not valid gzip: {exc}") from None
    if len(out) > limit:
        raise RequestError(TOO_LARGE, f"the body decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise RequestError(INVALID, "the gzip stream is truncated")
    return out


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise RequestError(INVALID, f"not an OTLP ExportTraceServiceRequest: {exc}") from None
    except RecursionError:
        raise RequestError(INVALID, "the protobuf message is nested too deeply") from None


# OTLP/JSON writes trace and span ids as hex where protobuf's JSON mapping expects base64.
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(obj: dict[str, Any], where: str) -> None:
    for name in _ID_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RequestError(INVALID, f"{where}.{name} is not a string")
        try:
            obj[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError:
            raise RequestError(INVALID, f"{where}.{name} is not hex") from None


def _list(obj: Any, key: str, where: str) -> list[Any]:
    value = obj.get(key, []) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        raise RequestError(INVALID, f"{where}.{key} is not an array")
    return value


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """An OTLP/JSON body: lowerCamelCase keys, hex ids, enums as numbers, 64-bit ints as
    strings (protobuf's JSON mapping otherwise, which accepts names and numbers alike)."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(INVALID, f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RequestError(INVALID, "the body is not a JSON object")
    for i, resource_spans in enumerate(_list(raw, "resourceSpans", "")):
        for j, scope_spans in enumerate(_list(resource_spans, "scopeSpans", f"resourceSpans[{i}]")):
            where = f"resourceSpans[{i}].scopeSpans[{j}]"
            for k, span in enumerate(_list(scope_spans, "spans", where)):
                if not isinstance(span, dict):
                    raise RequestError(INVALID, f"{where}.spans[{k}] is not an object")
                _hex_ids_to_base64(span, f"{where}.spans[{k}]")
                for n, link in enumerate(_list(span, "links", f"{where}.spans[{k}]")):
                    if isinstance(link, dict):
                        _hex_ids_to_base64(link, f"{where}.spans[{k}].links[{n}]")
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(raw, request, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, RecursionError) as exc:
        raise RequestError(INVALID, f"not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, without parameters, lower-cased."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(
    body: bytes, content_type: str | None, encoding: str | None, limit: int
) -> tuple[ExportTraceServiceRequest, str]:
    """An OTLP/HTTP body as a request, and the media type to answer in."""
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        raise RequestError(
            UNSUPPORTED,
            f"Content-Type {kind or '(none)'!r} is not one of {', '.join(CONTENT_TYPES)}",
        )
    coding = (encoding or "identity").strip().lower()
    if coding == "gzip":
        body = gunzip(body, limit)
    elif coding != "identity":
        raise RequestError(UNSUPPORTED, f"Content-Encoding {coding!r} is not gzip or identity")
    return (parse_protobuf(body) if kind == PROTOBUF else parse_json(body)), kind
