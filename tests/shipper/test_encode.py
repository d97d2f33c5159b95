"""Bus records → OTLP spans, as pure functions: every field and attribute type survives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.errors import MalformedRecord
from swarmsh.shipper.encode import DEFAULT_SCOPE, encode_batch, encode_line
from tests.otlp_receivers import flatten_spans

T, S, P = "3c73bfd5441995df8d8d49c67d5c8adf", "9e8ad8e5dba1d5ac", "fbdfe06c68424c26"


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "swarm.loop.iteration",
        "trace_id": T,
        "span_id": S,
        "parent_span_id": P,
        "kind": "SERVER",
        "timestamp": 1764000000.25,
        "duration_ms": 1.5,
        "status": "ERROR",
        "status_message": "no",
        "sampled": True,
        "attributes": {
            "s": "x",
            "i": 7,
            "f": 2.5,
            "b": True,
            "l": [1, 2],
            "n": {"k": "v"},
            "neg": -5,
            "zero": 0,
            "f0": 0.0,
            "no": False,
            "e": "",
            "null": None,
        },
        "events": [{"name": "e", "timestamp": 1764000000.5, "attributes": {"a": 1}}],
        "links": [{"trace_id": T, "span_id": P, "attributes": {"why": "counted"}}],
        "resource": {"service.name": "svc", "deployment.environment": "test"},
    }
    return {**base, **changes}


def line(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, separators=(",", ":")).encode() + b"\n"  # any integer, as JSON can


def roundtrip(*recs: dict[str, Any]) -> list[dict[str, Any]]:
    encoded = [encode_line(line(r)) for r in recs]
    body = encode_batch([e for e in encoded if e is not None])
    return flatten_spans(ExportTraceServiceRequest.FromString(body))


def test_every_field_survives() -> None:
    [span] = roundtrip(record())
    assert (span["trace_id"], span["span_id"], span["parent_span_id"]) == (T, S, P)
    assert (span["kind"], span["status_code"], span["status_message"]) == ("SERVER", "ERROR", "no")
    assert span["start_time_unix_nano"] == 1764000000250000000
    assert span["end_time_unix_nano"] == 1764000000251500000
    attrs = span["attributes"]
    assert attrs == record()["attributes"]
    assert [type(attrs[k]) for k in "sifbl"] == [str, int, float, bool, list]
    assert [type(attrs[k]) for k in ("zero", "f0", "no", "e")] == [int, float, bool, str]
    assert span["events"] == [{"name": "e", "attributes": {"a": 1}}]
    assert span["event_times"] == [1764000000500000000]
    assert span["links"] == [{"trace_id": T, "span_id": P, "attributes": {"why": "counted"}}]
    assert span["resource"] == {"service.name": "svc", "deployment.environment": "test"}
    assert (span["scope"], span["scope_version"]) == (
        DEFAULT_SCOPE["name"],
        DEFAULT_SCOPE["version"],
    )


def test_spans_are_grouped_by_resource_and_scope_in_order() -> None:
    spans = roundtrip(
        record(span_id="1" * 16),
        record(span_id="2" * 16, resource={"service.name": "other"}),
        record(span_id="3" * 16, scope={"name": "shop", "version": "2"}),
        record(span_id="4" * 16),
    )
    got = [(s["span_id"][0], s["resource"]["service.name"], s["scope"]) for s in spans]
    assert got == [("1", "svc", "swarmsh"), ("4", "svc", "swarmsh"), ("2", "other", "swarmsh"),
                   ("3", "svc", "shop")]  # fmt: skip


def test_a_root_span_has_no_parent_and_unset_status_is_unset() -> None:
    [span] = roundtrip(record(parent_span_id=None, status="UNSET", status_message=None))
    assert span["parent_span_id"] is None and span["status_code"] == "UNSET"


def test_unsampled_records_encode_to_nothing() -> None:
    assert encode_line(line(record(sampled=False))) is None
    assert encode_line(line({k: v for k, v in record().items() if k != "sampled"})) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"trace_id": "xyz"},
        {"span_id": "00"},
        {"parent_span_id": "zz" * 8},
        {"kind": "SIDEWAYS"},
        {"status": "MAYBE"},
        {"timestamp": "soon"},
        {"timestamp": -1},
        {"attributes": {"deep": [[[[[[[[[[1]]]]]]]]]]}},
        {"attributes": ["x"]},
        {"links": [{"trace_id": T}]},
        {"resource": "svc"},
    ],
)
def test_what_otlp_cannot_carry_is_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedRecord):
        encode_line(line(record(**change)))


def test_a_line_that_is_not_a_record_is_malformed() -> None:
    with pytest.raises(MalformedRecord):
        encode_line(b"[1]\n")
