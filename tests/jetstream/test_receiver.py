"""The receiver on a NATS bus (real receiver process, real nats-server): what it accepts is on
the spans stream under each span's subject before the sender hears OK; while JetStream cannot
acknowledge, the sender is told to retry (503) and nothing is lost once it is back; a retried
request is stored once."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from swarmsh.bus.jetstream.subjects import SPANS_STREAM, span_subject
from tests.jetstream.servers import NatsServer
from tests.jetstream.streamread import connect, stream_messages, stream_spans
from tests.receiver.harness import exporter, provider, running_receiver

T0 = 1_764_000_000_000_000_000


def request(names: list[str], trace: int = 0x5A) -> bytes:
    spans = [
        Span(
            trace_id=trace.to_bytes(16, "big"),
            span_id=(i + 1).to_bytes(8, "big"),
            name=name,
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=T0 + i,
            end_time_unix_nano=T0 + i + 1_000_000,
        )
        for i, name in enumerate(names)
    ]
    service = KeyValue(key="service.name", value=AnyValue(string_value="shop"))
    body = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[service]), scope_spans=[ScopeSpans(spans=spans)]
            )
        ]
    )
    return body.SerializeToString()


def post(url: str, body: bytes, timeout: float = 15.0) -> int:
    req = urllib.request.Request(  # noqa: S310 - a loopback test receiver
        url, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_accepted_spans_are_on_the_stream_under_their_subjects(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    with running_receiver(home) as rx:
        for protocol, endpoint in (("grpc", rx.grpc), ("http", rx.http)):
            sdk = provider(exporter(protocol, endpoint))
            with sdk.get_tracer("shop").start_as_current_span(f"checkout.{protocol}"):
                pass
            sdk.shutdown()
        assert post(rx.http, request(["GET /api/items"])) == 200
        conn = connect(nats_server.url)
        try:  # read at once: an OK means the server acknowledged already
            spans = stream_spans(conn)
            subjects = conn.run(conn.js.stream_info(SPANS_STREAM, subjects_filter=">"))
        finally:
            conn.close()
    assert [s["name"] for s in spans] == ["checkout.grpc", "checkout.http", "GET /api/items"]
    assert all(s["resource"]["service.name"] == "shop" for s in spans)
    assert subjects.state.subjects == {
        span_subject("checkout.grpc"): 1,
        span_subject("checkout.http"): 1,
        "swarmsh.spans.GET%20%2Fapi%2Fitems": 1,
    }
    assert not (home / "spans.jsonl").exists()  # nothing of the file bus
    assert rx.counts("http", "accepted", at_least=2)["accepted"] == 2


def test_a_retried_request_is_stored_once(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    body = request(["pay", "ship", "bill"], trace=0x77)
    with running_receiver(home) as rx:
        assert post(rx.http, body) == 200
        assert post(rx.http, body) == 200  # the sender never heard the first answer
        rx.stop()
        with running_receiver(home) as again:  # nothing to remember across a restart
            assert post(again.http, body) == 200
    conn = connect(nats_server.url)
    try:
        assert stream_messages(conn) == 3
        assert sorted(s["name"] for s in stream_spans(conn)) == ["bill", "pay", "ship"]
    finally:
        conn.close()


def test_without_jetstream_the_sender_is_told_to_retry_and_nothing_is_lost(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    with running_receiver(home, {"SWARMSH_NATS_TIMEOUT_S": "1"}) as rx:
        assert post(rx.http, request(["before"], trace=1)) == 200
        nats_server.kill()
        outage = request(["during"], trace=2)
        assert post(rx.http, outage) == 503  # not acknowledged: not OK
        assert rx.counts("http", "refused")["refused"] == 1
        nats_server.start()
        deadline = time.monotonic() + 30
        while (code := post(rx.http, outage)) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)  # as an OTLP sender retries (its backoff)
        assert code == 200
        assert rx.alive()
    conn = connect(nats_server.url)
    try:
        assert [s["name"] for s in stream_spans(conn)] == ["before", "during"]
    finally:
        conn.close()
