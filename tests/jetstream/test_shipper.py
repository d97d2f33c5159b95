"""The shipper on a NATS bus (real shipper process, real nats-server, real OTLP receivers): it
follows the spans stream with its own durable consumer, exports the sampled spans and
acknowledges them only after the collector did; across a collector outage every span arrives
once, across a kill -9 between export and ack at least once, never lost."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson

from swarmsh.bus.jetstream.connection import NatsConnection, NatsUnavailable
from swarmsh.bus.jetstream.subjects import SPANS_STREAM, span_subject
from swarmsh.shipper.jetstream import CONSUMER
from tests.conftest import run_cli as swarmsh
from tests.jetstream.servers import NatsServer
from tests.jetstream.streamread import connect, consumer_pending, stream_spans
from tests.otlp_receivers import GrpcOtlpReceiver, unused_port
from tests.shipper.harness import log_of, otlp_env, shipping, start_shipper, stop

T = "3c73bfd5441995df8d8d49c67d5c8adf"


def foreign(span_id: str, sampled: bool) -> dict[str, object]:
    return {
        "name": "checkout",
        "trace_id": T,
        "span_id": span_id,
        "parent_span_id": None,
        "kind": "SERVER",
        "timestamp": 1764000000.25,
        "duration_ms": 12.5,
        "status": "OK",
        "status_message": None,
        "sampled": sampled,
        "attributes": {"http.status": 200},
        "events": [],
        "links": [],
        "resource": {"service.name": "shop"},
    }


def publish(url: str, records: list[dict[str, object]]) -> None:
    conn = connect(url)
    try:
        messages = [(span_subject(str(r["name"])), orjson.dumps(r), None) for r in records]
        conn.publish_all(messages, stream=SPANS_STREAM)
    finally:
        conn.close()


def wait_all_acked(url: str, timeout: float = 20.0) -> None:
    conn = connect(url)
    try:
        deadline = time.monotonic() + timeout
        while (pending := consumer_pending(conn, SPANS_STREAM, CONSUMER)) != (0, 0):
            assert time.monotonic() < deadline, f"still pending (new, unacked): {pending}"
            time.sleep(0.05)  # consumer state lives in the server: polled
    finally:
        conn.close()


def held(conn: NatsConnection) -> int:
    """Messages the shipper fetched and holds unacknowledged (0 before it subscribed)."""
    from nats.js.errors import NotFoundError

    try:
        return consumer_pending(conn, SPANS_STREAM, CONSUMER)[1]
    except (NotFoundError, NatsUnavailable):  # no stream or consumer yet: not subscribed
        return 0


def cli_spans(home: Path, *motions: str) -> None:
    for motion in motions:
        assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0


def test_it_exports_the_sampled_spans_and_acks_after_the_collector(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str], otlp_grpc: GrpcOtlpReceiver
) -> None:
    cli_spans(home, "a", "b")
    publish(
        nats_server.url, [foreign("1111111111111111", True), foreign("2222222222222222", False)]
    )
    with shipping(home, otlp_env(otlp_grpc.endpoint), "--from", "beginning"):
        got = otlp_grpc.wait_for_spans(3, timeout=20)
        wait_all_acked(nats_server.url)
        time.sleep(0.3)  # anything more would arrive now
    assert len(otlp_grpc.spans()) == 3
    names = sorted(s["name"] for s in got)
    assert names == ["checkout", "swarmsh.roberts.second", "swarmsh.roberts.second"]
    assert "2222222222222222" not in {s["span_id"] for s in got}  # unsampled: not exported
    assert not (home / "spans.jsonl").exists()


def test_a_collector_outage_delays_and_never_loses_or_doubles(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    port = unused_port()
    env = otlp_env(f"http://127.0.0.1:{port}")
    with shipping(home, env, "--from", "beginning") as process:
        cli_spans(home, "a", "b", "c")
        conn = connect(nats_server.url)
        try:
            deadline = time.monotonic() + 20
            while held(conn) == 0:  # fetched, held
                assert time.monotonic() < deadline, log_of(home)
                time.sleep(0.05)
            assert sum(consumer_pending(conn, SPANS_STREAM, CONSUMER)) == 3  # none acked
        finally:
            conn.close()
        with GrpcOtlpReceiver(port) as collector:
            collector.wait_for_spans(3, timeout=30)
            wait_all_acked(nats_server.url)
            time.sleep(0.3)
            received = Counter(s["span_id"] for s in collector.spans())
        assert process.poll() is None
    assert len(received) == 3 and set(received.values()) == {1}


def test_kill_9_between_export_and_ack_redelivers_nothing_lost(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str], otlp_grpc: GrpcOtlpReceiver
) -> None:
    cli_spans(home, "a", "b", "c")
    env = otlp_env(otlp_grpc.endpoint)
    crashing = start_shipper(home, env, "--from", "beginning", failpoints="shipper-after-export")
    assert crashing.wait(30) == -9, log_of(home)  # exported, killed before its ack
    first = [s["span_id"] for s in otlp_grpc.wait_for_spans(3, timeout=5)]
    cli_spans(home, "d")
    process = start_shipper(home, env)  # its durable consumer: where it stood
    try:
        otlp_grpc.wait_for_spans(7, timeout=20)
        wait_all_acked(nats_server.url)
        time.sleep(0.3)
    finally:
        assert stop(process) == 0, log_of(home)
    conn = connect(nats_server.url)
    try:
        on_stream = [s["span_id"] for s in stream_spans(conn)]
    finally:
        conn.close()
    received = Counter(s["span_id"] for s in otlp_grpc.spans())
    assert set(received) == set(on_stream)  # nothing lost
    assert received == Counter({**dict.fromkeys(first, 2), on_stream[-1]: 1})  # at least once


def test_started_before_its_server_it_waits_for_it(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str], otlp_grpc: GrpcOtlpReceiver
) -> None:
    nats_server.kill()
    with shipping(home, otlp_env(otlp_grpc.endpoint), "--from", "beginning") as process:
        time.sleep(1.0)  # it is trying to connect (nothing to wait on: it is another process)
        assert process.poll() is None, log_of(home)
        nats_server.start()
        cli_spans(home, "late")  # its consumer starts at the stream's beginning: not missed
        otlp_grpc.wait_for_spans(1, timeout=20)
        assert process.poll() is None
