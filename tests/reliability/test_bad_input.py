"""Malformed lines on the live bus and queue: dead-lettered with a reason, nobody restarts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from swarmsh.bus.writer import JsonlWriter
from tests.conftest import read_jsonl
from tests.e2e.swarm import Swarm, running_swarm
from tests.reliability.corpus import BUS_CORPUS, QUEUE_CORPUS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def swarm() -> Iterator[Swarm]:
    with running_swarm() as s:
        yield s


def test_corpus_is_broad() -> None:
    assert len(BUS_CORPUS) >= 25 and len({k for k, _, _ in BUS_CORPUS}) == len(BUS_CORPUS)


def test_malformed_lines_are_dead_lettered_and_the_swarm_goes_on(swarm: Swarm) -> None:
    pids = {name: info["pid"] for name, info in swarm.states().items()}
    bus, queue = swarm.home / "spans.jsonl", swarm.home / "commands.jsonl"
    JsonlWriter(bus).append(line + b"\n" for _, line, _ in BUS_CORPUS)
    JsonlWriter(queue).append(line + b"\n" for _, line, _ in QUEUE_CORPUS)
    # a valid action afterwards is still handled: open -> call-to-order, through both
    subprocess.run(
        [sys.executable, "-m", "swarmsh", "roberts", "open", "after", "--meeting", "m9"],
        env=swarm.env,
        check=True,
        capture_output=True,
    )
    swarm.wait_for(
        lambda r: (
            r.name == "swarmsh.roberts.call-to-order"
            and r.attributes.get("roberts.meeting_id") == "m9"
        ),
        what="reaction after the corpus",
    )
    letters = read_jsonl(swarm.home / "deadletter" / "roberts.jsonl")
    for kind, _line, reason in BUS_CORPUS:
        assert any(reason in d["reason"] for d in letters), (
            f"bus line {kind!r}: no dead letter with {reason!r}"
        )
    assert len(letters) == len(BUS_CORPUS)
    assert all(d["line_bytes"] > 0 and d["offset"] >= 0 for d in letters)
    assert len(read_jsonl(swarm.home / "deadletter" / "executor.jsonl")) == len(QUEUE_CORPUS)
    for kind, _line, reason in QUEUE_CORPUS:
        assert any(
            reason in d["reason"] for d in read_jsonl(swarm.home / "deadletter" / "executor.jsonl")
        ), kind
    # nobody crashed or restarted
    assert {name: info["pid"] for name, info in swarm.states().items()} == pids
    assert all(info["statename"] == "RUNNING" for info in swarm.states().values())
    # every agent that parsed the junk counted it
    for agent in ("scrum", "lean"):
        assert read_jsonl(
            swarm.home / "deadletter" / f"{agent}.jsonl"
        )  # the not-JSON lines at least
