"""The OTLP test receivers, fed by the real OTLP exporters over gRPC and HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

if TYPE_CHECKING:
    from tests.otlp_receivers import BlackholeServer, GrpcOtlpReceiver, HttpOtlpReceiver

# The otlp_grpc, otlp_http and blackhole fixtures. Loaded as a plugin so pytest rewrites its
# asserts; importing it at module level here would come first and warn that it cannot.
pytest_plugins = ["tests.otlp_receivers"]

RESOURCE = Resource.create({"service.name": "swarmsh-test"})
ATTRIBUTES: dict[str, Any] = {
    "swarm.text": "hello",
    "swarm.count": 7,
    "swarm.ratio": 2.5,
    "swarm.flag": True,
    "swarm.tags": ["a", "b"],
}


def send_span(exporter: SpanExporter) -> tuple[str, str, str]:
    """Export one child span through the SDK; return (trace id, span id, parent id) in hex."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("swarmsh.tests")
    with tracer.start_as_current_span("parent") as parent:
        with tracer.start_as_current_span("swarm.test", attributes=ATTRIBUTES) as span:
            span.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()
    ctx, parent_ctx = span.get_span_context(), parent.get_span_context()
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{parent_ctx.span_id:016x}"


def send_metrics(exporter: MetricExporter) -> None:
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    meter = provider.get_meter("swarmsh.tests")
    meter.create_counter("swarm.test.commands").add(3, {"swarm.agent": "scrum"})
    meter.create_histogram("swarm.test.duration", unit="s").record(0.25)
    assert provider.force_flush(timeout_millis=5_000)
    provider.shutdown()


def assert_got_span(receiver: GrpcOtlpReceiver | HttpOtlpReceiver, ids: tuple[str, str, str]):
    trace_id, span_id, parent_id = ids
    spans = {span["name"]: span for span in receiver.wait_for_spans(2, timeout=5)}
    assert sorted(spans) == ["parent", "swarm.test"]
    span = spans["swarm.test"]
    assert span["trace_id"] == trace_id
    assert span["span_id"] == span_id
    assert span["parent_span_id"] == parent_id
    assert spans["parent"]["parent_span_id"] is None
    assert span["attributes"] == ATTRIBUTES
    assert span["resource"]["service.name"] == "swarmsh-test"
    assert span["scope"] == "swarmsh.tests"
    assert span["kind"] == "INTERNAL"
    assert (span["status_code"], span["status_message"]) == ("ERROR", "boom")
    assert spans["parent"]["status_code"] == "UNSET"


def assert_got_metrics(receiver: GrpcOtlpReceiver | HttpOtlpReceiver) -> None:
    names = {"swarm.test.commands", "swarm.test.duration"}
    assert receiver.wait_for_metrics(names, timeout=5) == names
    points = {point["name"]: point for point in receiver.metrics()}
    counter, histogram = points["swarm.test.commands"], points["swarm.test.duration"]
    assert (counter["type"], counter["value"], counter["attributes"]) == (
        "sum",
        3,
        {"swarm.agent": "scrum"},
    )
    assert counter["resource"]["service.name"] == "swarmsh-test"
    assert (histogram["type"], histogram["unit"]) == ("histogram", "s")
    assert histogram["value"] == {"count": 1, "sum": 0.25}


def test_grpc_receives_spans(otlp_grpc: GrpcOtlpReceiver) -> None:
    ids = send_span(GrpcSpanExporter(endpoint=otlp_grpc.endpoint, insecure=True))
    assert_got_span(otlp_grpc, ids)
    assert otlp_grpc.metric_names() == set()


def test_grpc_receives_metrics(otlp_grpc: GrpcOtlpReceiver) -> None:
    send_metrics(GrpcMetricExporter(endpoint=otlp_grpc.endpoint, insecure=True))
    assert_got_metrics(otlp_grpc)
    assert otlp_grpc.spans() == []


@pytest.mark.parametrize("compression", list(Compression))
def test_http_receives_spans(otlp_http: HttpOtlpReceiver, compression: Compression) -> None:
    exporter = HttpSpanExporter(endpoint=f"{otlp_http.endpoint}/v1/traces", compression=compression)
    assert_got_span(otlp_http, send_span(exporter))
    assert otlp_http.errors == []


def test_http_receives_metrics(otlp_http: HttpOtlpReceiver) -> None:
    send_metrics(HttpMetricExporter(endpoint=f"{otlp_http.endpoint}/v1/metrics"))
    assert_got_metrics(otlp_http)


def test_http_headers_are_recorded(otlp_http: HttpOtlpReceiver) -> None:
    exporter = HttpSpanExporter(
        endpoint=f"{otlp_http.endpoint}/v1/traces", headers={"X-Swarm": "yes"}
    )
    send_span(exporter)
    otlp_http.wait_for_spans(2)
    assert all(headers["x-swarm"] == "yes" for headers in otlp_http.request_headers)


def post(url: str, body: bytes, content_type: str = "application/x-protobuf") -> int:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_http_rejects_what_is_not_otlp_protobuf(otlp_http: HttpOtlpReceiver) -> None:
    assert post(f"{otlp_http.endpoint}/v1/logs", b"") == 404
    assert post(f"{otlp_http.endpoint}/v1/traces", b"{}", "application/json") == 415
    assert post(f"{otlp_http.endpoint}/v1/traces", b"\xff\xff\xff") == 400
    assert len(otlp_http.errors) == 1
    assert otlp_http.spans() == []


def test_wait_for_spans_times_out_with_what_it_got(otlp_grpc: GrpcOtlpReceiver) -> None:
    with pytest.raises(TimeoutError, match="got 0"):
        otlp_grpc.wait_for_spans(1, timeout=0.05)
    with pytest.raises(TimeoutError, match="swarm.nothing"):
        otlp_grpc.wait_for_metrics({"swarm.nothing"}, timeout=0.05)


def test_clear_forgets_everything(otlp_grpc: GrpcOtlpReceiver) -> None:
    send_span(GrpcSpanExporter(endpoint=otlp_grpc.endpoint, insecure=True))
    otlp_grpc.wait_for_spans(2)
    otlp_grpc.clear()
    assert (otlp_grpc.spans(), otlp_grpc.request_headers) == ([], [])


def test_stop_is_idempotent() -> None:
    from tests.otlp_receivers import BlackholeServer, GrpcOtlpReceiver, HttpOtlpReceiver

    for receiver in (GrpcOtlpReceiver(), HttpOtlpReceiver(), BlackholeServer()):
        with receiver:
            assert receiver.port > 0
        receiver.stop()


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_exporters_fail_fast_when_the_collector_hangs(blackhole: BlackholeServer, kind: str):
    if kind == "grpc":
        exporter: SpanExporter = GrpcSpanExporter(
            endpoint=blackhole.endpoint, insecure=True, timeout=0.5
        )
    else:
        exporter = HttpSpanExporter(endpoint=f"{blackhole.endpoint}/v1/traces", timeout=0.5)
    started = time.monotonic()
    assert exporter.export([finished_span()]) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 3
    assert blackhole.wait_for_connections(1) >= 1
    exporter.shutdown()


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_exporters_fail_fast_when_the_collector_is_down(kind: str) -> None:
    from tests.otlp_receivers import unused_port

    endpoint = f"http://127.0.0.1:{unused_port()}"
    if kind == "grpc":
        exporter: SpanExporter = GrpcSpanExporter(endpoint=endpoint, insecure=True, timeout=0.5)
    else:
        exporter = HttpSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=0.5)
    started = time.monotonic()
    assert exporter.export([finished_span()]) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 3
    exporter.shutdown()


def finished_span() -> Any:
    provider = TracerProvider(resource=RESOURCE)
    span = provider.get_tracer("swarmsh.tests").start_span("swarm.lost")
    span.end()
    return span
