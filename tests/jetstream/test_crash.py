"""Crash torture on JetStream: cascades through the supervised swarm (three agents, the rules
agent, two executors) while a chaos thread kill -9s RUNNING daemons at random. Every command
must run exactly once (one CLI span under one execute span), no agent may apply a state
change twice (every iteration span OK, one per source span) and the entities' states must be
those of an undisturbed run. The fast variant runs in the default suite (< 60 s); the long
one with SWARMSH_SLOW=1."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from swarmsh.agents.runner import command_id
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, EXECUTOR_CONSUMER
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl
from tests.e2e.swarm import Swarm, running_swarm
from tests.jetstream.helpers import commands_executed, entity, settled, spans, wait_until
from tests.jetstream.test_e2e import SECOND_EXECUTOR

pytestmark = pytest.mark.e2e
SLOW = os.environ.get("SWARMSH_SLOW") == "1"
VICTIMS = ("roberts", "scrum", "lean", "executor", "executor2")


class Chaos(threading.Thread):
    """kill -9 of a RUNNING agent or executor every 0.2-0.8 s until stopped."""

    def __init__(self, swarm: Swarm, seed: int) -> None:
        super().__init__(daemon=True)
        self.swarm = swarm
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.kills: Counter[str] = Counter()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(self.random.uniform(0.2, 0.8)):
                states = self.swarm.states()
                running = [n for n in VICTIMS if states[n]["statename"] == "RUNNING"]
                if running:
                    name = self.random.choice(running)
                    os.kill(states[name]["pid"], signal.SIGKILL)
                    self.kills[name] += 1
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def cascades(conn: NatsConnection, n: int, timeout: float) -> dict[str, str]:
    """Sprint motions -> plans; reviews -> lean projects; DMAIC -> ratification motions.
    Returns {expected command id: kind}."""
    expected: dict[str, str] = {}

    def wave(what: str, batch: list[tuple[str, dict[str, Any]]], more: int) -> list[str]:
        ids = write_spans(Path("/nonexistent"), batch)  # on NATS: the path is not used
        goal = len(expected) + more
        try:
            wait_until(lambda: len(commands_executed(spans(conn))) >= goal, timeout, what)
        except TimeoutError:
            raise TimeoutError(f"{what}: {diagnose(conn)}") from None
        return ids

    ids = wave(
        "plans",
        [s for i in range(1, n + 1) for s in motion_cycle(f"s{i}", f"meet{i}", i, "t")],
        2 * n,
    )
    for k in range(n):
        expected[command_id("roberts", ids[4 * k], "call-to-order")] = "call-to-order"
        expected[command_id("roberts", ids[4 * k + 3], "sprint-plan")] = "plan"
    review = {"scrum.team_id": "t", "scrum.velocity": 40.0, "scrum.defect_rate": 5.2}
    ids = wave(
        "projects",
        [("swarmsh.scrum.review", {"scrum.sprint_number": i, **review}) for i in range(1, n + 1)],
        n,
    )
    for k in range(n):
        expected[command_id("scrum", ids[k], "defect-project")] = "define"
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
    ids = wave("ratifications", dmaic, n + 1)  # + the board called to order once
    for k in range(n):
        expected[command_id("lean", ids[4 * k + 3], "ratify-process-change")] = "ratify"
    opens = [
        s
        for s in spans(conn)
        if s["name"] == "swarmsh.roberts.open"
        and s["attributes"]["roberts.motion_id"].startswith("ratify-")
    ]
    first = opens[0]  # in stream order, as roberts reads them (two executors: not by time)
    expected[command_id("roberts", first["span_id"], "call-to-order")] = "call-to-order board"
    return expected


def diagnose(conn: NatsConnection) -> str:
    """The consumers' state, for a failure's message."""
    from swarmsh.bus.jetstream.subjects import SPANS_STREAM

    lines = []
    for stream, name in [(SPANS_STREAM, a) for a in ("roberts", "scrum", "lean")] + [
        (COMMANDS_STREAM, EXECUTOR_CONSUMER)
    ]:
        info = conn.run(conn.js.consumer_info(stream, name))
        lines.append(
            f"{name}: pending {info.num_pending} ack-pending {info.num_ack_pending} "
            f"redelivered {info.num_redelivered} delivered {info.delivered.stream_seq}"
        )
    return "; ".join(lines)


@pytest.mark.parametrize("n", [pytest.param(600, marks=pytest.mark.slow)] if SLOW else [30])
def test_kill_9_of_agents_and_executors_loses_and_repeats_nothing(
    n: int, nats_server: Any, nats_conn: NatsConnection
) -> None:
    env = {"SWARMSH_BUS": nats_server.url, "SWARMSH_NATS_ACK_WAIT_S": "2"}
    with running_swarm(env, SECOND_EXECUTOR) as swarm:
        swarm.wait_running((*VICTIMS,), 30)
        chaos = Chaos(swarm, seed=int(os.environ.get("SWARMSH_SEED", n)))
        chaos.start()
        try:
            expected = cascades(nats_conn, n, 120 if SLOW else 40)
            kills = 30 if SLOW else 4
            wait_until(
                lambda: sum(chaos.kills.values()) >= kills or chaos.error is not None,
                60,
                f"{kills} kills",
            )
        finally:
            chaos.stop.set()
            chaos.join(30)
        assert chaos.error is None, chaos.error
        swarm.wait_running((*VICTIMS,), 60)
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 30, "acked")
        for agent in ("roberts", "scrum", "lean"):
            wait_until(lambda a=agent: settled(nats_conn, a), 30, f"{agent} acknowledged all")
        all_spans = spans(nats_conn)
        runs = commands_executed(all_spans)
        lost = {expected[c] for c in set(expected) - set(runs)}
        extra = set(runs) - set(expected)
        assert not lost and not extra, f"lost {lost}, unasked for {extra}; {diagnose(nats_conn)}"
        for cid, pair in runs.items():
            assert len(pair) == 2, f"{expected[cid]} {cid} ran {len(pair) // 2} times"
            execute = next(s for s in pair if s["name"] == "swarmsh.command.execute")
            [cli] = [s for s in pair if s is not execute]
            assert cli["parent_span_id"] == execute["span_id"]
        iterations = [s for s in all_spans if s["name"] == "swarm.loop.iteration"]
        twice = {p: c for p, c in Counter(s["parent_span_id"] for s in iterations).items() if c > 1}
        assert twice == {}, "a span handled twice by one agent"
        assert all(s["status"] == "OK" for s in iterations), "a state change applied twice"
        for i in range(1, n + 1):
            assert entity(nats_conn, "roberts", f"motion:s{i}")["state"] == "PASSED"  # type: ignore[index]
            assert entity(nats_conn, "scrum", f"sprint:t:{i}")["state"] == "REVIEW"  # type: ignore[index]
            assert entity(nats_conn, "lean", f"project:defect-t-{i}")["state"] == "CLOSED"  # type: ignore[index]
        letters = [read_jsonl(p) for p in (swarm.home / "deadletter").glob("*.jsonl")]
        assert all(not letter for letter in letters), "nothing should be dead-lettered"
        print(
            f"\nJetStream torture: {n} cascades, {len(expected)} commands once each, kills {dict(chaos.kills)}"
        )
