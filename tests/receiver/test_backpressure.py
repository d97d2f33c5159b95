"""A bus that cannot be written (a real full disk) gives retryable answers; once there is space
again, the SDK exporter's own retries land every span exactly once."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.diskfull import fill, free, small_disk
from tests.receiver.harness import Receiver, exporter, running_receiver
from tests.receiver.test_bad_input import GOOD, METHOD


@pytest.fixture
def full_disk_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    with small_disk(tmp_path / "disk", "4m") as disk:
        with running_receiver(disk / "home", log_dir=tmp_path) as rx:
            yield rx, disk


def _spans(n: int) -> list:
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("bp")
    for i in range(n):
        with tracer.start_as_current_span(f"work-{i}", attributes={"i": i}):
            pass
    return list(memory.get_finished_spans())


def test_full_disk_answers_are_retryable(full_disk_receiver: tuple[Receiver, Path]) -> None:
    rx, disk = full_disk_receiver
    fill(disk)
    conn = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=30)
    conn.request(
        "POST", "/v1/traces", GOOD.SerializeToString(), {"Content-Type": "application/x-protobuf"}
    )
    response = conn.getresponse()
    assert response.status == 503 and response.getheader("Retry-After") == "1"
    assert b"no space left" in response.read()
    with grpc.insecure_channel(f"127.0.0.1:{rx.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(METHOD)(GOOD.SerializeToString(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    trailers = dict(caught.value.trailing_metadata())
    assert "google.rpc.retryinfo-bin" in trailers and "grpc-status-details-bin" in trailers
    assert not rx.spans() and rx.alive()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_retries_land_every_span_once(
    full_disk_receiver: tuple[Receiver, Path], protocol: str
) -> None:
    rx, disk = full_disk_receiver
    spans = _spans(50)
    endpoint = rx.grpc if protocol == "grpc" else rx.http
    fill(disk)
    results: list[SpanExportResult] = []
    sender = threading.Thread(
        target=lambda: results.append(exporter(protocol, endpoint, timeout=30).export(spans))
    )
    sender.start()
    # The first attempt is refused (the receiver logs why; its status file is on the full
    # disk too); the exporter retries after the Retry-After / RetryInfo delay, 1 s.
    deadline = time.monotonic() + 10
    while b"no space left" not in rx.log.read_bytes():
        assert time.monotonic() < deadline, rx.log.read_text()
        time.sleep(0.02)
    assert not rx.spans()
    free(disk)
    sender.join(40)
    assert results == [SpanExportResult.SUCCESS]
    ids = Counter(r["span_id"] for r in rx.spans())
    assert ids == Counter(format(s.context.span_id, "016x") for s in spans)
    counts = rx.counts(protocol, "accepted", 50)
    assert counts["accepted"] == 50 and counts["refused"] >= 50
    assert rx.alive()
