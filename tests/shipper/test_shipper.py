"""The shipper delivers what producers wrote on the bus to real OTLP receivers (gRPC, HTTP):
identical spans, sampled ones only, exactly once across an outage, at least once (never lost)
across a kill -9; and producers no longer talk to any collector."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from swarmsh import startmark
from swarmsh.bus.records import dumps_line
from swarmsh.bus.writer import JsonlWriter
from tests.conftest import read_jsonl
from tests.conftest import run_cli as swarmsh
from tests.otlp_receivers import GrpcOtlpReceiver, HttpOtlpReceiver, unused_port
from tests.shipper.harness import (
    log_of,
    otlp_env,
    shipping,
    start_shipper,
    stop,
    wait_committed_to_end,
)

OPEN = ("roberts", "open", "m1", "--meeting", "board")
T = "3c73bfd5441995df8d8d49c67d5c8adf"
FOREIGN = {  # a span another service sent through the receiver: links, typed values, scope
    "name": "checkout",
    "trace_id": T,
    "span_id": "1111111111111111",
    "parent_span_id": "2222222222222222",
    "kind": "SERVER",
    "timestamp": 1764000000.25,
    "duration_ms": 12.5,
    "status": "ERROR",
    "status_message": "card declined",
    "sampled": True,
    "attributes": {"http.status": 402, "ratio": 0.5, "retry": False, "tags": ["a", "b"]},
    "events": [{"name": "exception", "timestamp": 1764000000.26, "attributes": {"n": 1}}],
    "links": [{"trace_id": T, "span_id": "3333333333333333", "attributes": {"k": "v"}}],
    "resource": {"service.name": "shop", "service.instance.id": "i-1"},
    "scope": {"name": "shop.payments", "version": "2.1"},
}


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    return {k: (type(v), v) for k, v in values.items()}


def assert_same(got: dict[str, Any], bus: dict[str, Any]) -> None:
    assert (got["trace_id"], got["span_id"]) == (bus["trace_id"], bus["span_id"])
    assert got["parent_span_id"] == bus["parent_span_id"]
    assert got["name"] == bus["name"] and got["kind"] == bus["kind"]
    assert got["status_code"] == bus["status"]
    assert got["status_message"] == (bus["status_message"] or "")
    assert typed(got["attributes"]) == typed(bus["attributes"])
    assert got["events"] == [
        {"name": e["name"], "attributes": e["attributes"]} for e in bus["events"]
    ]
    assert got["event_times"] == [round(e["timestamp"] * 1e6) * 1000 for e in bus["events"]]
    assert got["links"] == bus["links"]
    assert got["resource"] == bus["resource"]
    assert got["start_time_unix_nano"] == round(bus["timestamp"] * 1e6) * 1000
    scope = bus.get("scope", {"name": "swarmsh"})
    assert got["scope"] == scope["name"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_what_the_cli_writes_arrives_identical(
    home: Path, protocol: str, otlp_grpc: GrpcOtlpReceiver, otlp_http: HttpOtlpReceiver
) -> None:
    receiver = otlp_grpc if protocol == "grpc" else otlp_http
    env = otlp_env(receiver.endpoint, protocol)
    assert swarmsh(home, env, *OPEN).returncode == 0
    assert swarmsh(home, env, "roberts", "second", "m1").returncode == 0
    JsonlWriter(home / "spans.jsonl").append([dumps_line(FOREIGN)])
    bus = read_jsonl(home / "spans.jsonl")
    with shipping(home, env, "--from", "beginning"):
        spans = receiver.wait_for_spans(3, timeout=20)
        wait_committed_to_end(home)
    assert len(spans) == 3
    by_id = {s["span_id"]: s for s in spans}
    for record in bus:
        assert_same(by_id[record["span_id"]], record)
    assert by_id[bus[0]["span_id"]]["resource"]["service.name"] == "swarmsh-cli"
    assert by_id[bus[0]["span_id"]]["events"], "the CLI's span carries its event"
    assert by_id[FOREIGN["span_id"]]["scope_version"] == "2.1"


def test_unsampled_records_are_not_exported(home: Path, otlp_grpc: GrpcOtlpReceiver) -> None:
    drop = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    for motion in ("a", "b"):
        assert swarmsh(home, drop, "roberts", "second", motion).returncode == 0
    assert swarmsh(home, {}, "roberts", "second", "c").returncode == 0
    assert [r["sampled"] for r in read_jsonl(home / "spans.jsonl")] == [False, False, True]
    with shipping(home, otlp_env(otlp_grpc.endpoint), "--from", "beginning"):
        otlp_grpc.wait_for_spans(1, timeout=20)
        wait_committed_to_end(home)  # all three lines were read and passed on
    assert [s["attributes"]["roberts.motion_id"] for s in otlp_grpc.spans()] == ["c"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_spans_written_during_an_outage_arrive_once_when_it_ends(home: Path, protocol: str) -> None:
    make = GrpcOtlpReceiver if protocol == "grpc" else HttpOtlpReceiver
    first = make().start()
    env = otlp_env(first.endpoint, protocol)
    port = first.port
    with shipping(home, env, "--from", "beginning"):
        assert swarmsh(home, {}, "roberts", "second", "before").returncode == 0
        first.wait_for_spans(1, timeout=20)
        wait_committed_to_end(home)
        first.stop()  # the collector goes away
        for motion in ("during-1", "during-2", "during-3"):
            assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0
        time.sleep(1.0)  # let the shipper fail at least once against the closed port
        assert "cannot export" in log_of(home)
        second = make(port).start()  # back, on the same port
        try:
            second.wait_for_spans(3, timeout=30)
            wait_committed_to_end(home, timeout=30)
            time.sleep(0.3)  # a span sent twice would have arrived by now
        finally:
            second.stop()
    received = Counter(s["span_id"] for s in first.spans() + second.spans())
    on_bus = [r["span_id"] for r in read_jsonl(home / "spans.jsonl")]
    assert received == Counter(on_bus)  # every span, each exactly once


def wait_for_log(home: Path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log_of(home):
        assert time.monotonic() < deadline, f"no {text!r} in the log: {log_of(home)}"
        time.sleep(0.05)  # another process's log file: nothing to wait on


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_collector_gone_in_the_middle_of_a_stream_loses_nothing(
    home: Path, protocol: str
) -> None:
    """Producers keep writing while the collector goes away mid-stream and comes back: every
    span arrives; one request in flight when it went may arrive twice (at least once)."""
    total, batch = 2000, 50
    make = GrpcOtlpReceiver if protocol == "grpc" else HttpOtlpReceiver
    first = make().start()
    env = {**otlp_env(first.endpoint, protocol), "SWARMSH_SHIPPER_BATCH": str(batch)}
    home.mkdir(mode=0o700)
    writer = JsonlWriter(home / "spans.jsonl")

    def produce() -> None:  # 40 spans every 10 ms: the outage falls in the middle
        for n in range(0, total, 40):
            writer.append(
                [dumps_line({**FOREIGN, "span_id": f"{i + 1:016x}"}) for i in range(n, n + 40)]
            )
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    with shipping(home, env, "--from", "beginning"):
        producer.start()
        first.wait_for_spans(total // 4, timeout=20)
        first.stop()  # the collector goes away while spans are still being written
        wait_for_log(home, "cannot export")
        second = make(first.port).start()
        try:
            producer.join(30)
            wait_committed_to_end(home, timeout=30)
        finally:
            second.stop()
    received = Counter(s["span_id"] for s in first.spans() + second.spans())
    on_bus = {r["span_id"] for r in read_jsonl(home / "spans.jsonl")}
    assert len(on_bus) == total
    assert on_bus - set(received) == set(), "spans lost across the outage"
    assert set(received) == on_bus
    assert len(first.spans()) < total and len(second.spans()) > 0
    assert sum(received.values()) - total <= batch  # at most the request in flight, twice


def test_kill_9_between_export_and_commit_resends_only_that_batch(
    home: Path, otlp_grpc: GrpcOtlpReceiver
) -> None:
    for motion in ("a", "b", "c"):
        assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0
    env = otlp_env(otlp_grpc.endpoint)
    crashing = start_shipper(home, env, "--from", "beginning", failpoints="shipper-after-export")
    assert crashing.wait(30) == -9, log_of(home)  # acknowledged, killed before its commit
    first = [s["span_id"] for s in otlp_grpc.wait_for_spans(3, timeout=5)]
    assert swarmsh(home, {}, "roberts", "second", "d").returncode == 0
    with shipping(home, env):  # from its checkpoint: where it started
        otlp_grpc.wait_for_spans(7, timeout=20)
        wait_committed_to_end(home)
        time.sleep(0.3)
    received = Counter(s["span_id"] for s in otlp_grpc.spans())
    on_bus = [r["span_id"] for r in read_jsonl(home / "spans.jsonl")]
    assert set(received) == set(on_bus)  # nothing lost
    assert received == Counter({**dict.fromkeys(first, 2), on_bus[-1]: 1})  # at least once


def test_without_an_endpoint_it_idles_healthy(home: Path) -> None:
    process = start_shipper(home, {})
    try:
        deadline = time.monotonic() + 20
        while not startmark.committed(home / "state", "shipper"):
            assert time.monotonic() < deadline and process.poll() is None, log_of(home)
            time.sleep(0.05)
        assert process.poll() is None
    finally:
        assert stop(process) == 0
    assert "no OTLP endpoint configured" in log_of(home)


def test_bad_settings_are_a_usage_error(home: Path) -> None:
    env = otlp_env("http://127.0.0.1:1", "carrier-pigeon")
    process = start_shipper(home, env)
    assert process.wait(20) == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL" in log_of(home) and "Traceback" not in log_of(home)


def bare_python_s() -> float:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - began


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_the_cli_with_a_dead_endpoint_is_silent_and_fast(home: Path, protocol: str) -> None:
    env = otlp_env(f"http://127.0.0.1:{unused_port()}", protocol)
    swarmsh(home, {}, "roberts", "second", "warm")  # the first run compiles bytecode
    began = time.monotonic()
    result = swarmsh(home, env, *OPEN)
    took = time.monotonic() - began
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert took < bare_python_s() + 1.0  # no export, no wait for a collector
    assert len(read_jsonl(home / "spans.jsonl")) == 2
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "swarmsh", "roberts", "second", "m1"],
        env={**os.environ, "SWARMSH_HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "opentelemetry.exporter" not in traced.stderr
    assert "grpc" not in traced.stderr.replace("swarmsh", "")
