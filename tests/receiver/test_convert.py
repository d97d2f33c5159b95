"""The pure conversion (OTLP → bus line) and decoding, as tables and properties: whatever arrives,
every line written passes the agents' own reader, and every span is written or rejected."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from swarmsh.bus.records import SpanRecord
from swarmsh.receiver import convert as c
from swarmsh.receiver.decode import decode_body, gunzip, parse_json
from swarmsh.receiver.outcome import INVALID, TOO_LARGE, UNSUPPORTED, RequestError

T, S = bytes(range(1, 17)), bytes(range(1, 9))


def one(**fields: object) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "svc"
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = T, S, "op"
    span.start_time_unix_nano, span.end_time_unix_nano = (
        1_700_000_000 * 10**9,
        1_700_000_001 * 10**9,
    )
    for key, value in fields.items():
        setattr(span, key, value) if not isinstance(value, dict) else span.status.CopyFrom(
            type(span.status)(**value)
        )
    return request


def test_a_span_becomes_the_record_readers_expect() -> None:
    request = one(parent_span_id=bytes(range(9, 17)), kind=3, status={"code": 2, "message": "x"})
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="b").value.bytes_value = b"\x00\x01"
    span.attributes.add(key="nested").value.kvlist_value.values.add(key="k").value.int_value = 1
    out = c.convert(request, 1 << 20)
    assert not out.rejected and out.keys == [T.hex() + S.hex()]
    record = json.loads(out.lines[0])
    assert SpanRecord.from_json(out.lines[0]).span_id == S.hex()
    assert record == {
        "name": "op",
        "trace_id": T.hex(),
        "span_id": S.hex(),
        "parent_span_id": bytes(range(9, 17)).hex(),
        "kind": "CLIENT",
        "timestamp": 1_700_000_000.0,
        "duration_ms": 1000.0,
        "status": "ERROR",
        "status_message": "x",
        "sampled": True,
        "attributes": {"b": "AAE=", "nested": {"k": 1}},
        "events": [],
        "links": [],
        "resource": {"service.name": "svc"},
        "scope": {"name": ""},
    }


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"trace_id": bytes(16)}, "trace_id is not 16 bytes"),
        ({"trace_id": b"\x01" * 15}, "trace_id is not 16 bytes"),
        ({"span_id": bytes(8)}, "span_id is not 8 bytes"),
        ({"parent_span_id": b"\x01" * 4}, "parent_span_id is not 8 bytes"),
        ({"name": ""}, "span name is empty"),
        ({"name": "x" * 1025}, "longer than 1024"),
        ({"name": "a\u202eb"}, "U+202E"),
        ({"end_time_unix_nano": 1}, "ends before it starts"),
        ({"start_time_unix_nano": 2**63, "end_time_unix_nano": 2**63}, "beyond 2**32 s"),
        ({"kind": 9}, "kind is not one OTLP defines"),
        ({"status": {"code": 3}}, "status code"),
        ({"status": {"message": "m" * 70_000}}, "status message is longer"),
    ],
)
def test_unrepresentable_spans_are_rejected_with_the_reason(fields: dict, reason: str) -> None:
    out = c.convert(one(**fields), 1 << 20)
    assert not out.lines and len(out.rejected) == 1
    assert reason in out.rejected[0][0]
    assert reason in c.rejection_message(out.rejected)


def test_value_bounds() -> None:
    deep = AnyValue()
    node = deep
    for _ in range(c.MAX_VALUE_DEPTH + 1):
        node = node.array_value.values.add()
    node.int_value = 1
    for value, reason in [
        (AnyValue(string_value="s" * (c.MAX_STRING_CHARS + 1)), "string value is longer"),
        (AnyValue(bytes_value=b"b" * (c.MAX_STRING_CHARS + 1)), "bytes value is longer"),
        (deep, "nested more than 8"),
    ]:
        request = one()
        request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="v").value.CopyFrom(
            value
        )
        assert reason in c.convert(request, 1 << 20).rejected[0][0]
    big = one()
    big.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="v").value.string_value = (
        "x" * 60_000
    )
    assert "over the readers' limit of 50000" in c.convert(big, 50_000).rejected[0][0]


def test_a_long_name_remembered_as_safe_is_still_too_long_for_a_key() -> None:
    name = "n" * 500
    request = one(name=name)
    assert c.convert(request, 1 << 20).lines  # a 500-character span name is fine
    request.resource_spans[0].scope_spans[0].spans[0].attributes.add(key=name).value.int_value = 1
    assert "attribute key is empty or longer than 256" in c.convert(request, 1 << 20).rejected[0][0]


@st.composite
def hostile_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    ids = st.binary(min_size=0, max_size=17)
    text = st.text(max_size=40)
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        rs = request.resource_spans.add()
        for key in draw(st.lists(text, max_size=3)):
            rs.resource.attributes.add(key=key).value.string_value = draw(text)
        ss = rs.scope_spans.add()
        ss.scope.name = draw(text)
        for _ in range(draw(st.integers(0, 4))):
            span = ss.spans.add()
            span.trace_id, span.span_id, span.parent_span_id = draw(ids), draw(ids), draw(ids)
            span.name = draw(text)
            span.kind = draw(st.integers(0, 7))
            span.status.code = draw(st.integers(0, 4))
            span.status.message = draw(text)
            span.start_time_unix_nano = draw(st.integers(0, 2**64 - 1))
            span.end_time_unix_nano = draw(st.integers(0, 2**64 - 1))
            for key in draw(st.lists(text, max_size=4)):
                value = span.attributes.add(key=key).value
                choice = draw(st.integers(0, 4))
                if choice == 0:
                    value.double_value = draw(st.floats())
                elif choice == 1:
                    value.int_value = draw(st.integers(-(2**63), 2**63 - 1))
                elif choice == 2:
                    value.bytes_value = draw(st.binary(max_size=8))
                elif choice == 3:
                    value.array_value.values.add().string_value = draw(text)
            for _ in range(draw(st.integers(0, 2))):
                event = span.events.add(
                    name=draw(text), time_unix_nano=draw(st.integers(0, 2**64 - 1))
                )
                event.attributes.add(key=draw(text)).value.bool_value = True
            for _ in range(draw(st.integers(0, 2))):
                span.links.add(trace_id=draw(ids), span_id=draw(ids))
    return request


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_requests())
def test_every_line_passes_the_agents_reader(request: ExportTraceServiceRequest) -> None:
    out = c.convert(request, 1 << 20)
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    assert len(out.lines) + len(out.rejected) == total == out.spans
    for line, key in zip(out.lines, out.keys, strict=True):
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        record = SpanRecord.from_json(line)  # never dead-lettered by a reader
        assert record.trace_id + record.span_id == key
        assert record.status in c.STATUSES and record.kind in c.KINDS


def test_gunzip_is_bounded() -> None:
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(RequestError) as bomb:
        gunzip(gzip.compress(b"\0" * (10 << 20)), 1 << 20)
    assert bomb.value.kind == TOO_LARGE
    with pytest.raises(RequestError) as truncated:
        gunzip(gzip.compress(b"x" * 1000)[:-10], 1 << 20)
    assert truncated.value.kind == INVALID
    with pytest.raises(RequestError) as unknown:
        decode_body(b"", "application/x-protobuf", "zstd", 1 << 20)
    assert unknown.value.kind == UNSUPPORTED


def test_otlp_json_ids_are_hex_and_enums_numbers() -> None:
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": T.hex(),
                                    "spanId": S.hex(),
                                    "name": "j",
                                    "kind": "SPAN_KIND_PRODUCER",
                                    "startTimeUnixNano": "5",
                                    "endTimeUnixNano": 6,
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    span = parse_json(body).resource_spans[0].scope_spans[0].spans[0]
    assert (span.trace_id, span.span_id, span.kind, span.start_time_unix_nano) == (T, S, 4, 5)
    for bad in (
        b"[]",
        b'{"resourceSpans": {}}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}',
    ):
        with pytest.raises(RequestError) as caught:
            parse_json(bad)
        assert caught.value.kind == INVALID
