"""An agent's first start begins where `swarmsh up` marked the bus, not where the bus ends later."""

from __future__ import annotations

import threading
from pathlib import Path

from swarmsh import startmark
from swarmsh.agents import roberts
from swarmsh.agents.runner import AgentRunner
from swarmsh.config import Paths
from swarmsh.telemetry import setup_telemetry
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl


def first_start(home: Path) -> list[dict]:
    """Start roberts with no checkpoint, let it handle what it finds, return the queue."""
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-roberts", paths.bus, otlp=False)
    runner = AgentRunner(roberts.AGENT, paths, telemetry, start="checkpoint")
    try:
        while items := runner.follower.poll(0.05):
            assert runner.process(items, threading.Event())
    finally:
        runner.close()
        telemetry.shutdown()
    return read_jsonl(home / "commands.jsonl") if (home / "commands.jsonl").exists() else []


def test_spans_written_between_the_mark_and_the_start_are_handled(home: Path) -> None:
    bus = home / "spans.jsonl"
    write_spans(bus, motion_cycle("m0", "earlier", 1, "t")[:1])  # before `up`: not ours
    mark = startmark.record(home / "state", bus)
    assert mark.offset == bus.stat().st_size
    assert (home / "state" / "start.json").stat().st_mode & 0o777 == 0o600
    write_spans(bus, motion_cycle("m1", "board", 1, "t")[:1])  # after `up`, before the agent
    commands = first_start(home)
    assert [c["args"] for c in commands] == [{"meeting": "board"}]


def test_a_mark_made_before_the_bus_existed_means_all_of_it(home: Path) -> None:
    startmark.record(home / "state", home / "spans.jsonl")
    write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[:1])
    assert [c["args"] for c in first_start(home)] == [{"meeting": "board"}]


def test_without_a_mark_a_first_start_begins_at_the_end(home: Path) -> None:
    write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[:1])
    assert first_start(home) == []


def test_a_checkpoint_wins_over_the_mark(home: Path) -> None:
    bus = home / "spans.jsonl"
    startmark.record(home / "state", bus)
    write_spans(bus, motion_cycle("m1", "board", 1, "t")[:1])
    assert len(first_start(home)) == 1  # commits its checkpoint past m1
    write_spans(bus, motion_cycle("m2", "hall", 1, "t")[:1])
    commands = first_start(home)
    assert [c["args"] for c in commands] == [{"meeting": "board"}, {"meeting": "hall"}]


def test_clear_removes_the_mark_and_a_broken_one_reads_as_none(home: Path) -> None:
    state = home / "state"
    startmark.record(state, home / "spans.jsonl")
    startmark.clear(state)
    startmark.clear(state)  # idempotent
    assert startmark.recorded(state) is None
    (state / "start.json").write_text("{not json")
    assert startmark.recorded(state) is None


def test_settle_clears_the_mark_once_every_reader_committed(home: Path) -> None:
    from swarmsh.store import StateStore

    state = home / "state"
    assert startmark.main(["mark"]) == 0  # as systemd's ExecStartPre runs it
    assert startmark.settle(state, ("roberts", "lean"), timeout=0.1) == ["roberts", "lean"]
    assert startmark.recorded(state) is not None  # nobody committed: the mark stays
    for reader in ("roberts", "lean"):
        store = StateStore(state / f"{reader}.db", durable=False)
        store.commit(reader, startmark.bus_position(home / "spans.jsonl").to_dict())
        store.close()
    assert startmark.settle(state, ("roberts", "lean"), timeout=5) == []
    assert startmark.recorded(state) is None
    assert startmark.main(["settle", "0.1"]) == 0  # the others never came: it says so, exit 0
    assert startmark.main(["nonsense"]) == 2
