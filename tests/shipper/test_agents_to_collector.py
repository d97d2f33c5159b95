"""An agent's iteration spans reach the collector through the bus and the shipper, and a line
OTLP cannot carry is dead-lettered, never sent and never blocking what follows."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from swarmsh.agents import roberts
from swarmsh.agents.runner import AgentRunner
from swarmsh.bus.writer import JsonlWriter
from swarmsh.config import Paths
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import Shipper
from swarmsh.telemetry import setup_telemetry
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl
from tests.otlp_receivers import GrpcOtlpReceiver


def ship_all(paths: Paths, endpoint: str) -> Shipper:
    settings = ShipperSettings(url=endpoint, protocol="grpc", timeout=5.0)
    shipper = Shipper(paths, settings, "beginning")
    stop = threading.Event()
    end = paths.bus.stat().st_size
    while shipper.follower.position.offset < end:
        shipper.step(stop)
    return shipper


def test_an_agents_iteration_spans_reach_the_collector(
    home: Path, otlp_grpc: GrpcOtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    [open_id] = write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[:1])
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_grpc.endpoint)
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-roberts", paths.bus)
    assert not any("OTLPSpanExporter" in type(p).__name__ for p in telemetry.processors)
    runner = AgentRunner(roberts.AGENT, paths, telemetry, start="beginning")
    items = runner.follower.poll(1.0)
    assert items and runner.process(items, threading.Event())
    runner.close()
    telemetry.shutdown()
    assert otlp_grpc.spans() == []  # the agent itself exports no span

    ship_all(paths, otlp_grpc.endpoint).close()
    on_bus = next(r for r in read_jsonl(paths.bus) if r["name"] == "swarm.loop.iteration")
    spans = otlp_grpc.wait_for_spans(2, timeout=10)
    [exported] = [s for s in spans if s["name"] == "swarm.loop.iteration"]
    assert (exported["trace_id"], exported["span_id"]) == (on_bus["trace_id"], on_bus["span_id"])
    assert exported["parent_span_id"] == open_id
    assert exported["attributes"] == on_bus["attributes"]
    assert exported["resource"]["service.name"] == "swarmsh-roberts"
    assert exported["scope"] == "swarmsh"


def test_a_line_otlp_cannot_carry_is_dead_lettered(home: Path, otlp_grpc: GrpcOtlpReceiver) -> None:
    paths = Paths(home).secure()
    [good] = write_spans(paths.bus, motion_cycle("m1", "board", 1, "t")[:1])
    JsonlWriter(paths.bus).append([b'{"name":"x","trace_id":"nothex"}\n'])
    [after] = write_spans(paths.bus, motion_cycle("m2", "board", 1, "t")[:1])
    shipper = ship_all(paths, otlp_grpc.endpoint)
    shipper.close()
    assert [s["span_id"] for s in otlp_grpc.wait_for_spans(2, timeout=10)] == [good, after]
    [letter] = read_jsonl(paths.deadletter_file("shipper"))
    assert "trace_id" in str(letter)
