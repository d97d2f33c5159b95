"""Crash torture: cascades through the supervised swarm while a chaos loop kill -9s its daemons.

The fast variant runs in the default suite; the long one (2,000 cascades, 30+ kills) runs with
SWARMSH_SLOW=1 (or `make test-slow`).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from swarmsh.agents.runner import command_id
from swarmsh.store import StateStore
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl
from tests.e2e.swarm import Swarm, running_swarm

pytestmark = pytest.mark.e2e
SLOW = os.environ.get("SWARMSH_SLOW") == "1"


class Chaos(threading.Thread):
    """Kills a random daemon with SIGKILL at random moments; supervisord restarts it."""

    def __init__(self, swarm: Swarm, min_kills: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.swarm, self.min_kills, self.random = swarm, min_kills, random.Random(seed)
        self.stop = threading.Event()
        self.kills: Counter[str] = Counter()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(self.random.uniform(0.05, 0.4)):
                # only RUNNING ones: one killed while starting would count as a failed start
                running = [n for n, i in self.swarm.states().items() if i["statename"] == "RUNNING"]
                if running:
                    name = self.random.choice(sorted(running))
                    os.kill(self.swarm.states()[name]["pid"], signal.SIGKILL)
                    self.kills[name] += 1
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def wait_until(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def executed(swarm: Swarm) -> dict[str, list[dict[str, Any]]]:
    """OK spans carrying a command id, grouped by id."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for span in swarm.spans():
        cid = span["attributes"].get("swarm.command.id")
        if cid and span["status"] == "OK" and span["name"] != "swarm.loop.iteration":
            by_id.setdefault(cid, []).append(span)
    return by_id


def run_cascades(swarm: Swarm, n: int, chaos: Chaos | None, timeout: float) -> dict[str, str]:
    """Drive n cascades in three waves; return {expected command id: kind}."""
    bus = swarm.home / "spans.jsonl"
    expected: dict[str, str] = {}
    cycles = [s for i in range(1, n + 1) for s in motion_cycle(f"s{i}", f"meet{i}", i, "t")]
    ids = write_spans(bus, cycles)
    for i in range(n):
        expected[command_id("roberts", ids[4 * i], "call-to-order")] = "call-to-order"
        expected[command_id("roberts", ids[4 * i + 3], "sprint-plan")] = "plan"
    wait_until(
        "every sprint planned",
        lambda: (
            sum(1 for s in executed(swarm).values() for x in s if x["name"] == "swarmsh.scrum.plan")
            >= n
        ),
        timeout,
    )

    reviews = [
        (
            "swarmsh.scrum.review",
            {
                "scrum.sprint_number": i,
                "scrum.team_id": "t",
                "scrum.velocity": 40.0,
                "scrum.defect_rate": 5.2,
            },
        )
        for i in range(1, n + 1)
    ]
    ids = write_spans(bus, reviews)
    for i in range(n):
        expected[command_id("scrum", ids[i], "defect-project")] = "define"
    wait_until(
        "every lean project defined",
        lambda: (
            sum(
                1 for s in executed(swarm).values() for x in s if x["name"] == "swarmsh.lean.define"
            )
            >= n
        ),
        timeout,
    )

    dmaic = []
    for i in range(1, n + 1):
        p = {"lean.project_id": f"defect-t-{i}"}
        dmaic += [
            ("swarmsh.lean.measure", {**p, "lean.phase": "measure"}),
            ("swarmsh.lean.analyze", {**p, "lean.phase": "analyze"}),
            ("swarmsh.lean.improve", {**p, "lean.phase": "improve"}),
            (
                "swarmsh.lean.control",
                {**p, "lean.phase": "control", "lean.process_changes": ["pair review"]},
            ),
        ]
    ids = write_spans(bus, dmaic)
    for i in range(n):
        expected[command_id("lean", ids[4 * i + 3], "ratify-process-change")] = "ratify"
    wait_until(
        "every ratification opened", lambda: expected.keys() <= executed(swarm).keys(), timeout
    )
    # The first ratification finds the board not in session, so roberts calls it to order once.
    board = command_id("roberts", first_ratify_open(swarm)["span_id"], "call-to-order")
    expected[board] = "call-to-order board"
    wait_until("the board called to order", lambda: board in executed(swarm), timeout)
    return expected


def first_ratify_open(swarm: Swarm) -> dict[str, Any]:
    opens = [
        s
        for s in swarm.spans()
        if s["name"] == "swarmsh.roberts.open"
        and s["status"] == "OK"
        and s["attributes"]["roberts.motion_id"].startswith("ratify-")
    ]
    return min(opens, key=lambda s: s["timestamp"])


def check(swarm: Swarm, n: int, expected: dict[str, str]) -> None:
    runs = executed(swarm)
    duplicates = {cid: len(spans) for cid, spans in runs.items() if len(spans) != 2}
    assert duplicates == {}, f"commands not run exactly once (execute + CLI span): {duplicates}"
    assert set(runs) == set(expected), "a command ran that nobody asked for, or one is missing"
    for spans in runs.values():
        execute = next(s for s in spans if s["name"] == "swarmsh.command.execute")
        [cli] = [s for s in spans if s is not execute]
        assert cli["parent_span_id"] == execute["span_id"]

    # entity states are those of an uninterrupted run (once the agents have caught up)
    def settled() -> bool:
        with StateStore(swarm.home / "state" / "roberts.db") as store:
            return sum(1 for e in store.entities().values() if e.state == "OPEN") == n

    wait_until("roberts to see every ratification motion", settled, 120)
    with StateStore(swarm.home / "state" / "roberts.db") as store:
        roberts = store.entities()
    with StateStore(swarm.home / "state" / "scrum.db") as store:
        scrum = store.entities()
    with StateStore(swarm.home / "state" / "lean.db") as store:
        lean = store.entities()
    for i in range(1, n + 1):
        assert roberts[f"motion:s{i}"].state == "PASSED"
        assert roberts[f"meeting:meet{i}"].state == "IN_SESSION"
        assert roberts[f"motion:ratify-defect-t-{i}"].state == "OPEN"
        assert scrum[f"sprint:t:{i}"].state == "REVIEW"
        assert lean[f"project:defect-t-{i}"].state == "CLOSED"
    assert roberts["meeting:board"].state == "IN_SESSION"
    letters = list((swarm.home / "deadletter").glob("*.jsonl"))
    assert [read_jsonl(p) for p in letters] == [[] for _ in letters], (
        "nothing should be dead-lettered"
    )


@pytest.mark.parametrize(
    ("cascades", "min_kills"),
    [pytest.param(2000, 30, marks=pytest.mark.slow) if SLOW else pytest.param(40, 3)],
)
def test_crash_torture(cascades: int, min_kills: int) -> None:
    with running_swarm() as swarm:
        chaos = Chaos(swarm, min_kills, seed=cascades)
        chaos.start()
        began = time.monotonic()
        try:
            expected = run_cascades(swarm, cascades, chaos, timeout=600 if SLOW else 120)
        finally:
            chaos.stop.set()
            chaos.join(60)
        assert chaos.error is None, chaos.error
        swarm.wait_running(timeout=60)
        check(swarm, cascades, expected)
        kills = sum(chaos.kills.values())
        print(
            f"\ntorture: {cascades} cascades, {len(expected)} commands checked, {kills} kills while they ran "
            f"{dict(chaos.kills)}, duplicates 0, lost 0, {time.monotonic() - began:.0f}s"
        )
        assert kills >= min_kills


def test_graceful_stop_under_load_loses_and_duplicates_nothing() -> None:
    with running_swarm() as swarm:
        n = 60
        bus = swarm.home / "spans.jsonl"
        ids = write_spans(
            bus, [s for i in range(1, n + 1) for s in motion_cycle(f"g{i}", f"gm{i}", i, "g")]
        )
        stopped = swarm.ctl("stop", "swarm:*")  # while the commands flow
        assert stopped.returncode == 0, stopped.stdout
        assert all(info["exitstatus"] == 0 for info in swarm.states().values())
        assert swarm.ctl("start", "swarm:*").returncode == 0
        expected = {command_id("roberts", ids[4 * i + 3], "sprint-plan") for i in range(n)}
        expected |= {command_id("roberts", ids[4 * i], "call-to-order") for i in range(n)}
        wait_until("every command", lambda: expected <= executed(swarm).keys(), 120)
        runs = executed(swarm)
        assert set(runs) == expected
        assert all(len(spans) == 2 for spans in runs.values())
