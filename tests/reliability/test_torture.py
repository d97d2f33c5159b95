"""Crash torture: cascades through the supervised swarm while a chaos loop attacks it.

The chaos loop kill -9s daemons (the shipper among them, by name too) and supervisord itself,
rotates the bus and the queue the way logrotate's numbered scheme does, and fills the disk the
swarm's home lives on (a tmpfs of its own) for a moment. Every command must still run exactly
once, the agents' states must be those of an undisturbed run, and the shipper must have
delivered every sampled span of every bus generation to a real OTLP receiver (at least once:
a batch acknowledged but not yet committed when it was killed is sent again). The fast variant
runs in the default suite; the long one (2,000 cascades) runs with SWARMSH_SLOW=1 (or
`make test-slow`).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from swarmsh.agents.runner import command_id
from swarmsh.bus.rotation import generations
from swarmsh.store import StateStore
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl
from tests.diskfull import fill, free, tmpfs
from tests.e2e.swarm import Swarm, running_swarm
from tests.otlp_receivers import GrpcOtlpReceiver

pytestmark = pytest.mark.e2e
SLOW = os.environ.get("SWARMSH_SLOW") == "1"
ROUND = 200 if SLOW else 50  # cascades a round
TIMEOUT_S = 300 if SLOW else 120  # for one wave of a round
HOME_SIZE = "512m"  # the home's own disk: big enough for 2,000 cascades, small to fill


def rotate(path: Path) -> None:
    """What logrotate's numbered scheme does (without deleting any): .N→.N+1 … .1→.2, live→.1."""
    numbered = sorted(
        (int(p.name.rsplit(".", 1)[1]), p)
        for p in path.parent.glob(path.name + ".*")
        if p.name.rsplit(".", 1)[1].isdigit()
    )
    for number, old in reversed(numbered):
        os.rename(old, path.with_name(f"{path.name}.{number + 1}"))
    if path.exists():
        os.rename(path, path.with_name(path.name + ".1"))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:\tZ") for line in status)
    except FileNotFoundError:
        return False


class Chaos(threading.Thread):
    """Attacks the swarm at random moments; each kind of attack at least `minimum[kind]` times.

    kinds: kill -9 of a RUNNING daemon, of the shipper by name, of supervisord (its daemons
    must follow it, then a new supervisord starts them), a numbered rotation of the bus or the
    queue, and a full disk for a moment. `quiet` is held while the test itself writes spans, so only the
    swarm meets the full disk.
    """

    def __init__(self, swarm: Swarm, disk: Path | None, minimum: dict[str, int], seed: int) -> None:
        super().__init__(daemon=True)
        self.swarm, self.disk, self.minimum = swarm, disk, minimum
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.quiet = threading.Lock()
        self.kills: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.error: BaseException | None = None

    def reached(self) -> bool:
        """Every kind of attack happened at least its minimum number of times."""
        return all(self.events[kind] >= n for kind, n in self.minimum.items())

    def _choose(self) -> str:
        behind = [k for k, n in self.minimum.items() if self.events[k] < n]
        if behind and self.random.random() < 0.3:
            return self.random.choice(sorted(behind))
        roll = self.random.random()
        if roll < 0.06 and "supervisord kill" in self.minimum:
            return "supervisord kill"
        if roll < 0.14 and "disk full" in self.minimum:
            return "disk full"
        if roll < 0.30:
            return "rotation"
        return "daemon kill"

    def run(self) -> None:
        try:
            while not self.stop.wait(self.random.uniform(0.05, 0.4)):
                kind = self._choose()
                if getattr(self, "_" + kind.replace(" ", "_"))() is not False:
                    self.events[kind] += 1
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def _daemon_kill(self) -> None:
        # only RUNNING ones: one killed while starting would count as a failed start
        states = self.swarm.states()
        running = sorted(n for n, i in states.items() if i["statename"] == "RUNNING")
        if running:
            name = self.random.choice(running)
            os.kill(states[name]["pid"], signal.SIGKILL)
            self.kills[name] += 1

    def _shipper_kill(self) -> bool:
        info = self.swarm.states().get("shipper", {})
        if info.get("statename") != "RUNNING":
            return False  # not counted: it must happen to a running shipper
        os.kill(info["pid"], signal.SIGKILL)
        self.kills["shipper"] += 1
        return True

    def _supervisord_kill(self) -> None:
        children = [i["pid"] for i in self.swarm.states().values() if i["pid"]]
        assert self.swarm.process is not None
        self.swarm.process.kill()
        self.swarm.process.wait()
        self.kills["supervisord"] += 1
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in children):
            assert time.monotonic() < deadline, f"daemons outlived supervisord: {children}"
            time.sleep(0.05)
        self.swarm.start(timeout=60)

    def _rotation(self) -> None:
        name = ("spans.jsonl", "commands.jsonl")[self.events["rotation"] % 2]
        rotate(self.swarm.home / name)
        self.events[f"rotation of {name}"] += 1

    def _disk_full(self) -> None:
        assert self.disk is not None
        with self.quiet:
            fill(self.disk)
            try:
                self.stop.wait(self.random.uniform(0.3, 1.5))
            finally:
                free(self.disk)


def wait_until(what: str, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def bus_spans(swarm: Swarm) -> list[dict[str, Any]]:
    """Every span on the bus, rotated generations included."""
    return [s for path in generations(swarm.home / "spans.jsonl") for s in read_jsonl(path)]


def executed(swarm: Swarm) -> dict[str, list[dict[str, Any]]]:
    """OK spans carrying a command id, grouped by id."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for span in bus_spans(swarm):
        cid = span["attributes"].get("swarm.command.id")
        if cid and span["status"] == "OK" and span["name"] != "swarm.loop.iteration":
            by_id.setdefault(cid, []).append(span)
    return by_id


def executed_count(swarm: Swarm) -> int:
    """How many commands the executor's ledger holds as executed: a cheap progress gauge
    (the final check reads the bus itself)."""
    db = swarm.home / "state" / "executor.db"
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            row = conn.execute("SELECT COUNT(*) FROM commands WHERE status = 'executed'")
            return int(row.fetchone()[0])
    except sqlite3.Error:
        return 0  # not there yet, or busy: ask again


def run_cascades(
    swarm: Swarm, numbers: range, chaos: Chaos | None, timeout: float, ran_before: int
) -> dict[str, str]:
    """Drive the cascades `numbers` in three waves, once the `ran_before` commands of earlier
    rounds ran; return {expected command id: kind}."""
    bus = swarm.home / "spans.jsonl"
    quiet = chaos.quiet if chaos is not None else threading.Lock()
    expected: dict[str, str] = {}

    def wave(what: str, spans: list[tuple[str, dict[str, Any]]], commands: int) -> list[str]:
        with quiet:
            ids = write_spans(bus, spans)
        goal = ran_before + len(expected) + commands
        wait_until(what, lambda: executed_count(swarm) >= goal, timeout)
        return ids

    cycles = [s for i in numbers for s in motion_cycle(f"s{i}", f"meet{i}", i, "t")]
    ids = wave("every sprint planned", cycles, 2 * len(numbers))
    for k in range(len(numbers)):
        expected[command_id("roberts", ids[4 * k], "call-to-order")] = "call-to-order"
        expected[command_id("roberts", ids[4 * k + 3], "sprint-plan")] = "plan"

    review = {"scrum.team_id": "t", "scrum.velocity": 40.0, "scrum.defect_rate": 5.2}
    reviews = [("swarmsh.scrum.review", {"scrum.sprint_number": i, **review}) for i in numbers]
    ids = wave("every lean project defined", reviews, len(numbers))
    for k in range(len(numbers)):
        expected[command_id("scrum", ids[k], "defect-project")] = "define"

    dmaic = []
    for i in numbers:
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
    # The first ratification finds the board not in session, so roberts calls it to order
    # once, in the first round; later ones find it in session.
    board = 1 if numbers.start == 1 else 0
    ids = wave("every ratification opened", dmaic, len(numbers) + board)
    for k in range(len(numbers)):
        expected[command_id("lean", ids[4 * k + 3], "ratify-process-change")] = "ratify"
    if board:
        opened = command_id("roberts", first_ratify_open(swarm)["span_id"], "call-to-order")
        expected[opened] = "call-to-order board"
    return expected


def first_ratify_open(swarm: Swarm) -> dict[str, Any]:
    opens = [
        s
        for s in bus_spans(swarm)
        if s["name"] == "swarmsh.roberts.open"
        and s["status"] == "OK"
        and s["attributes"]["roberts.motion_id"].startswith("ratify-")
    ]
    return min(opens, key=lambda s: s["timestamp"])


def explain(swarm: Swarm, cid: str) -> str:
    """Everything the swarm recorded of one command: for a failure's message."""
    lines = [f"command {cid}:"]
    for path in generations(swarm.home / "spans.jsonl"):
        for span in read_jsonl(path):
            if span["attributes"].get("swarm.command.id") == cid:
                lines.append(
                    f"  {path.name}: {span['name']} {span['status']} {span['span_id']}"
                    f" parent={span['parent_span_id']} attempt="
                    f"{span['attributes'].get('swarm.command.attempt')}"
                )
    for log in sorted((swarm.base / "var").glob("*.log")):
        lines += [f"  {log.name}: {line}" for line in log.read_text().splitlines() if cid in line]
    if os.environ.get("SWARMSH_TORTURE_LOGS"):
        lines += (swarm.base / "var" / "executor.log").read_text().splitlines()
    return "\n".join(lines)


def check(swarm: Swarm, n: int, expected: dict[str, str]) -> tuple[int, int]:
    """Assert every expected command ran exactly once and nothing else ran; (lost, duplicated)."""
    runs = executed(swarm)
    duplicated = {cid: len(spans) for cid, spans in runs.items() if len(spans) > 2}
    lost = set(expected) - set(runs)
    assert duplicated == {}, f"commands run more than once (execute + CLI span): {duplicated}"
    assert lost == set(), f"commands never run: {sorted(expected[c] for c in lost)}"
    assert set(runs) == set(expected), "a command ran that nobody asked for"
    for cid, spans in runs.items():
        assert len(spans) == 2, explain(swarm, cid)
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
    return len(lost), len(duplicated)


def nothing_dead_lettered(swarm: Swarm) -> None:
    letters = {p.name: read_jsonl(p) for p in (swarm.home / "deadletter").glob("*.jsonl")}
    assert all(found == [] for found in letters.values()), f"dead-lettered: {letters}"


@pytest.mark.parametrize(
    ("cascades", "minimum"),
    [
        pytest.param(
            2000,
            {
                "daemon kill": 100,
                "shipper kill": 12,
                "supervisord kill": 8,
                "rotation": 30,
                "disk full": 15,
            },
            marks=pytest.mark.slow,
        )
        if SLOW
        else pytest.param(
            100,
            {
                "daemon kill": 4,
                "shipper kill": 2,
                "supervisord kill": 1,
                "rotation": 4,
                "disk full": 2,
            },
        )
    ],
)
def test_crash_torture(cascades: int, minimum: dict[str, int]) -> None:
    mount = Path(tempfile.mkdtemp(prefix="swd-", dir="/tmp"))
    try:
        with tmpfs(mount, HOME_SIZE) as mounted:
            if not mounted:
                minimum = {k: v for k, v in minimum.items() if k != "disk full"}
            torture(cascades, minimum, mount if mounted else None)
    finally:
        shutil.rmtree(mount, ignore_errors=True)


def shipped(swarm: Swarm, collector: GrpcOtlpReceiver) -> tuple[int, int]:
    """Every sampled span of every bus generation reached the collector; (spans, repeats)."""
    spans = {s["span_id"]: s for s in bus_spans(swarm) if s["sampled"]}
    deadline = time.monotonic() + 180
    while missing := set(spans) - {s["span_id"] for s in collector.spans()}:
        if time.monotonic() > deadline:
            log = (swarm.base / "var" / "shipper.log").read_text(errors="replace")
            letters = swarm.home / "deadletter" / "shipper.jsonl"
            dead = read_jsonl(letters) if letters.exists() else []
            examples = [(spans[i]["name"], spans[i]["timestamp"]) for i in sorted(missing)[:5]]
            raise AssertionError(
                f"{len(missing)} of {len(spans)} sampled spans never reached the collector, "
                f"e.g. {examples}; the shipper dead-lettered {len(dead)} lines "
                f"{[(d['offset'], d['reason'][:60]) for d in dead[:5]]}; its log ends:\n"
                f"{log[-3000:]}"
            )
        time.sleep(0.5)  # the collector is in this process, but spans() decodes them all
    received = Counter(s["span_id"] for s in collector.spans())
    assert set(received) <= {s["span_id"] for s in bus_spans(swarm)}, "a span not on the bus"
    return len(spans), sum(received.values()) - len(received)


def torture(cascades: int, minimum: dict[str, int], disk: Path | None) -> None:
    """Run the cascades under chaos, then check that each command ran exactly once and that
    the shipper delivered the bus to the collector."""
    env = {"SWARMSH_HOME": str(disk)} if disk else {}
    with (
        GrpcOtlpReceiver() as collector,
        running_swarm({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}) as swarm,
    ):
        chaos = Chaos(swarm, disk, minimum, seed=int(os.environ.get("SWARMSH_SEED", cascades)))
        chaos.start()
        began = time.monotonic()
        try:
            # Rounds of cascades until there were `cascades` of them and every kind of attack
            # happened often enough while they ran (bounded: a slow machine gets fewer).
            expected: dict[str, str] = {}
            done = 0
            deadline = time.monotonic() + (1200 if SLOW else 240)
            while done < cascades or (not chaos.reached() and time.monotonic() < deadline):
                numbers = range(done + 1, done + ROUND + 1)
                expected |= run_cascades(swarm, numbers, chaos, TIMEOUT_S, len(expected))
                done += ROUND
            during = sum(v for k, v in chaos.events.items() if k in minimum)
            # the chaos goes on until every kind of attack has happened often enough
            wait_until("every kind of attack", lambda: chaos.reached() or bool(chaos.error), 120)
        finally:
            chaos.stop.set()
            chaos.join(90)
        assert chaos.error is None, chaos.error
        swarm.wait_running(timeout=60)
        lost, duplicated = check(swarm, done, expected)
        spans, repeats = shipped(swarm, collector)
        print(
            f"\ntorture: {done} cascades, {len(expected)} commands checked, "
            f"kills {dict(sorted(chaos.kills.items()))}, attacks {dict(sorted(chaos.events.items()))}, "
            f"({during} of them while the cascades ran), "
            f"lost {lost}, duplicated {duplicated}; shipped {spans} spans, none lost, "
            f"{repeats} sent again; {time.monotonic() - began:.0f}s"
        )
        nothing_dead_lettered(swarm)


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
