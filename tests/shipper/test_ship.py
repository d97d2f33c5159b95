"""`Shipper.step` with an in-memory sender: requests bounded in bytes and spans, commit only after every
one was acknowledged, a permanent refusal dead-lettered, a stop while retrying commits nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.config import Paths
from swarmsh.shipper import ship
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import Shipper
from swarmsh.shipper.transport import ACKNOWLEDGED, Outcome
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl


class FakeSender:
    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        self.bodies: list[bytes] = []

    def send(self, body: bytes) -> Outcome:
        self.bodies.append(body)
        return self.outcomes.pop(0) if self.outcomes else ACKNOWLEDGED

    def close(self) -> None:
        pass

    def span_counts(self) -> list[int]:
        return [
            len(ExportTraceServiceRequest.FromString(b).resource_spans[0].scope_spans[0].spans)
            for b in self.bodies
        ]


def shipper_for(home: Path, sender: FakeSender, spans: int, batch: int = 2048) -> Shipper:
    paths = Paths(home).secure()
    write_spans(paths.bus, [motion_cycle(f"m{i}", "board", 1, "t")[0] for i in range(spans)])
    settings = ShipperSettings(url="http://unused", batch=batch)
    return Shipper(paths, settings, "beginning", sender=sender)


def committed(shipper: Shipper) -> int | None:
    saved = shipper.store.load_position("shipper")
    return None if saved is None else saved["offset"]


def test_requests_are_bounded_and_committed_after_all(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = FakeSender([])
    shipper = shipper_for(home, sender, 5)
    size = len(shipper.follower.parse(shipper.follower.path.read_bytes().splitlines()[0]).span)
    monkeypatch.setattr(ship, "MAX_REQUEST_BYTES", 2 * size + 10)
    shipper.step(threading.Event())
    assert sender.span_counts() == [2, 2, 1]
    assert committed(shipper) == shipper.follower.path.stat().st_size
    assert shipper.store.counters() == {"exported": 5}


def test_requests_hold_at_most_batch_spans(home: Path) -> None:
    sender = FakeSender([])
    shipper = shipper_for(home, sender, 5, batch=2)  # one read of the bus holds all five
    shipper.step(threading.Event())
    assert sender.span_counts() == [2, 2, 1]
    assert committed(shipper) == shipper.follower.path.stat().st_size


def test_a_permanent_refusal_is_dead_lettered(home: Path) -> None:
    sender = FakeSender([Outcome(False, retry=False, why="HTTP 400")])
    shipper = shipper_for(home, sender, 2)
    shipper.step(threading.Event())
    assert shipper.store.counters()["refused"] == 2
    letters = read_jsonl(Paths(home).deadletter_file("shipper"))
    assert [letter["reason"] for letter in letters] == ["refused by the collector"] * 2


def test_stopped_while_retrying_commits_nothing(home: Path) -> None:
    sender = FakeSender([Outcome(False, retry=True, why="down")] * 100)
    shipper = shipper_for(home, sender, 2)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    shipper.step(stop)
    assert len(sender.bodies) >= 2  # retried with backoff
    assert committed(shipper) is None  # the batch is read again at the next start
