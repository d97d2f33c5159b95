"""The OTel SDK's own OTLP exporters (gRPC, HTTP/protobuf) and an OTLP/JSON body, against a real
receiver process: the bus holds each span as the sender made it."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from swarmsh.bus.records import SpanRecord
from swarmsh.telemetry.encoding import span_to_record
from tests.receiver.harness import Receiver, exporter, provider, running_receiver

ATTRIBUTES = {
    "s": "text ✓",
    "i": -(2**63),
    "f": 2.5,
    "b": True,
    "ss": ["a", "b"],
    "ii": [1, 2, 3],
    "ff": [0.5, 1.5],
    "bb": [True, False],
}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Receiver:
    with running_receiver(tmp_path_factory.mktemp("rx") / "home") as rx:
        yield rx  # type: ignore[misc]


def _send(protocol: str, endpoint: str, gzip: bool) -> list[dict]:
    """Make a parent and child span (events, a link, every attribute type) with the SDK;
    send them with its exporter; return what an SDK span turns into on our own bus."""
    memory = InMemorySpanExporter()
    if gzip and protocol == "grpc":
        from grpc import Compression

        kwargs = {"compression": Compression.Gzip}
    elif gzip:
        from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression

        kwargs = {"compression": HttpCompression.Gzip}
    else:
        kwargs = {}
    tracer_provider = provider(exporter(protocol, endpoint, **kwargs))
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("shop.checkout", "2.1")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as parent:
        parent.set_attributes(ATTRIBUTES)
        parent.add_event("paid", {"amount": 12.5, "items": ["x"]})
        with tracer.start_as_current_span(
            "charge",
            kind=SpanKind.CLIENT,
            links=[Link(parent.get_span_context(), {"why": "retry"})],
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    tracer_provider.shutdown()
    return [span_to_record(s) for s in memory.get_finished_spans()]


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_exporter_spans_land_as_sent(receiver: Receiver, protocol: str, gzip: bool) -> None:
    endpoint = receiver.grpc if protocol == "grpc" else receiver.http
    sent = _send(protocol, endpoint, gzip)
    landed = {r["span_id"]: r for r in receiver.spans()}
    assert len(sent) == 2
    for want in sent:
        got = landed[want["span_id"]]
        SpanRecord.from_dict(got)  # what every agent reads
        assert got["scope"] == {"name": "shop.checkout", "version": "2.1"}
        for key in ("name", "trace_id", "parent_span_id", "kind", "status", "status_message"):
            assert got[key] == want[key], key
        assert got["timestamp"] == pytest.approx(want["timestamp"], abs=1e-6)
        assert got["duration_ms"] == pytest.approx(want["duration_ms"], abs=1e-3)
        assert got["attributes"] == {
            k: list(v) if isinstance(v, tuple) else v for k, v in want["attributes"].items()
        }
        assert [e["name"] for e in got["events"]] == [e["name"] for e in want["events"]]
        assert [e["attributes"] for e in got["events"]] == [
            {k: list(v) if isinstance(v, tuple) else v for k, v in e["attributes"].items()}
            for e in want["events"]
        ]
        assert [
            (link["trace_id"], link["span_id"], link["attributes"]) for link in got["links"]
        ] == [(link["trace_id"], link["span_id"], link["attributes"]) for link in want["links"]]
        assert got["resource"] == want["resource"]
    checkout = landed[sent[1]["span_id"]]
    assert checkout["attributes"]["i"] == -(2**63) and isinstance(
        checkout["attributes"]["f"], float
    )
    assert receiver.counts(protocol, "accepted", 2)["accepted"] >= 2


OTLP_JSON = b"""{"resourceSpans": [{"resource": {"attributes": [
  {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
 "scopeSpans": [{"scope": {"name": "lib", "version": "0.1"}, "spans": [{
  "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
  "parentSpanId": "eee19b7ec3c1b173", "name": "json-span", "kind": 2,
  "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
  "attributes": [{"key": "n", "value": {"intValue": "9007199254740993"}},
                 {"key": "d", "value": {"doubleValue": 0.25}},
                 {"key": "raw", "value": {"bytesValue": "AAE="}},
                 {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"boolValue": true}}]}}}],
  "events": [{"timeUnixNano": "1544712660500000000", "name": "ev"}],
  "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175"}],
  "status": {"code": 2, "message": "boom"}}]}]}]}"""


def test_otlp_json_body(receiver: Receiver) -> None:
    request = urllib.request.Request(
        receiver.http, data=OTLP_JSON, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.read() == b"{}"
    (got,) = [r for r in receiver.spans() if r["span_id"] == "eee19b7ec3c1b174"]
    assert got["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert got["parent_span_id"] == "eee19b7ec3c1b173"
    assert (got["name"], got["kind"], got["status"], got["status_message"]) == (
        "json-span", "SERVER", "ERROR", "boom",
    )  # fmt: skip
    assert got["timestamp"] == 1544712660.0 and got["duration_ms"] == 1000.0
    assert got["attributes"] == {"n": 9007199254740993, "d": 0.25, "raw": "AAE=", "kv": {"x": True}}
    assert got["events"] == [{"name": "ev", "timestamp": 1544712660.5, "attributes": {}}]
    assert got["links"] == [
        {
            "trace_id": "5b8efff798038103d269b633813fc60d",
            "span_id": "eee19b7ec3c1b175",
            "attributes": {},
        }
    ]
    assert got["resource"] == {"service.name": "json-svc"}
    assert got["scope"] == {"name": "lib", "version": "0.1"}


def test_sdk_export_result_is_success(receiver: Receiver, tmp_path: Path) -> None:
    """The exporter itself reports success (no partial failure hidden in a 200)."""
    from opentelemetry.sdk.trace import TracerProvider

    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    with tracer_provider.get_tracer("t").start_as_current_span("one"):
        pass
    spans = memory.get_finished_spans()
    for protocol, endpoint in (("grpc", receiver.grpc), ("http", receiver.http)):
        assert exporter(protocol, endpoint).export(spans) is SpanExportResult.SUCCESS
    ids = [r["span_id"] for r in receiver.spans()]
    assert (
        ids.count(format(spans[0].context.span_id, "016x")) == 1
    )  # the resend is not written twice
