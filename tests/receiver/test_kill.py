"""kill -9 of the receiver during a burst from the SDK exporter: every span the sender was told
succeeded is on the bus exactly once (and the retried ones are not written twice)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.receiver.harness import Receiver, exporter


def _batches(count: int, size: int) -> list[list]:
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("burst")
    for i in range(count * size):
        with tracer.start_as_current_span("burst", attributes={"n": i}):
            pass
    spans = list(memory.get_finished_spans())
    return [spans[i : i + size] for i in range(0, len(spans), size)]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_kill_9_during_a_burst(tmp_path: Path, protocol: str) -> None:
    rx = Receiver(tmp_path / "home", {"SWARMSH_FSYNC": "always"}).start()
    endpoint = rx.grpc if protocol == "grpc" else rx.http
    batches = _batches(120, 50)
    told_ok: list[list] = []
    failed = 0
    done = threading.Event()

    def send() -> None:
        nonlocal failed
        out = exporter(protocol, endpoint, timeout=20)
        for batch in batches:
            if out.export(batch) is SpanExportResult.SUCCESS:
                told_ok.append(batch)
            else:
                failed += 1
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while len(told_ok) < 20:  # mid-burst
            assert not done.is_set()
            time.sleep(0.005)
        rx.kill()
        rx.start()  # as supervisord would (the sender's retries ride out the gap)
        sender.join(120)
    finally:
        rx.stop()
    assert done.is_set() and len(told_ok) > 20
    on_bus = Counter(r["span_id"] for r in rx.spans())
    for batch in told_ok:
        for span in batch:
            assert on_bus[format(span.context.span_id, "016x")] == 1
    assert max(on_bus.values()) == 1  # nothing twice, acknowledged or not
