"""The whole loop on JetStream under a real supervisord (the repository's supervisord.conf,
plus a second executor): governance -> delivery -> optimization -> governance, with all three
agents, the rules agent, two executors, the receiver and the shipper; processes share only
the nats-server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.ledger import KvLedger
from swarmsh.bus.jetstream.streams import ensure_bucket
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, EXECUTOR_CONSUMER, LEDGER_BUCKET
from tests.e2e.swarm import PROGRAMS, Swarm, running_swarm
from tests.jetstream.helpers import commands_executed, settled, spans, wait_until

pytestmark = pytest.mark.e2e

SECOND_EXECUTOR = """
[program:executor2]
command=%(here)s/.venv/bin/python -m swarmsh.executor
directory=%(here)s
environment=PYTHONUNBUFFERED="1",SWARMSH_EXECUTOR_ID="2"
autostart=true
autorestart=true
startsecs=1
stopsignal=TERM
stopwaitsecs=10
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=%(here)s/var/%(program_name)s.log
"""


def cli(swarm: Swarm, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env=swarm.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def wait_span(
    conn: NatsConnection, match: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [s for s in spans(conn) if match(s)]
        return bool(found)

    wait_until(seen, timeout, what)
    return found[-1]


def named(name: str, **attrs: object) -> Callable[[dict[str, Any]], bool]:
    return lambda s: (
        s["name"] == name and all(s["attributes"].get(k) == v for k, v in attrs.items())
    )


def test_the_loop_closes_on_jetstream(nats_server: Any, nats_conn: NatsConnection) -> None:
    env = {"SWARMSH_BUS": nats_server.url, "SWARMSH_NATS_ACK_WAIT_S": "5"}
    with running_swarm(env, SECOND_EXECUTOR) as swarm:
        swarm.wait_running((*PROGRAMS, "executor2"), 30)
        began = time.monotonic()
        cli(
            swarm,
            "roberts",
            "open",
            "sprint42",
            "--kind",
            "sprint",
            "--sprint",
            "42",
            "--team",
            "alpha",
            "--meeting",
            "board",
        )
        wait_span(
            nats_conn,
            named("swarmsh.roberts.call-to-order", **{"roberts.meeting_id": "board"}),
            "call-to-order",
        )
        for step in (("second",), ("vote",), ("close", "--yes", "5", "--no", "2")):
            cli(swarm, "roberts", step[0], "sprint42", *step[1:])
        close = wait_span(nats_conn, named("swarmsh.roberts.close"), "close")
        plan = wait_span(
            nats_conn, named("swarmsh.scrum.plan", **{"scrum.sprint_number": 42}), "plan"
        )
        assert plan["trace_id"] == close["trace_id"]
        cli(
            swarm,
            "scrum",
            "review",
            "42",
            "--team",
            "alpha",
            "--velocity",
            "45",
            "--defect-rate",
            "5.2",
        )
        project = "defect-alpha-42"
        define = wait_span(
            nats_conn, named("swarmsh.lean.define", **{"lean.project_id": project}), "define"
        )
        assert define["attributes"]["lean.sponsor"] == "scrum"
        cli(swarm, "lean", "measure", project, "--metric", "defect_rate=5.2")
        cli(swarm, "lean", "analyze", project, "--root-cause", "no second reviewer")
        cli(swarm, "lean", "improve", project, "--improvement", "pair review", "--pilot-success")
        cli(swarm, "lean", "control", project, "--process-change", "pair review")
        control = wait_span(nats_conn, named("swarmsh.lean.control"), "control")
        ratify = wait_span(
            nats_conn,
            named("swarmsh.roberts.open", **{"roberts.motion_id": f"ratify-{project}"}),
            "ratification motion",
        )
        assert ratify["trace_id"] == control["trace_id"]
        loop_s = time.monotonic() - began

        # a burst of meetings to call to order: both executors take some, each runs once
        for i in range(12):
            cli(swarm, "roberts", "open", f"b{i}", "--meeting", f"burst{i}")
        wait_until(
            lambda: (
                len([s for s in spans(nats_conn) if s["name"] == "swarmsh.roberts.call-to-order"])
                == 13
            ),
            30,
            "13 meetings called to order",
        )
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 20, "acked")
        runs = commands_executed(spans(nats_conn))
        assert all(len(pair) == 2 for pair in runs.values()), "a command ran twice"
        ledger = KvLedger(nats_conn, ensure_bucket(nats_conn, LEDGER_BUCKET))
        owners = {ledger.get(cid).value["owner"] for cid in runs}  # type: ignore[union-attr]
        assert len(owners) == 2, f"both executors ran commands: {owners}"
        iterations = [s for s in spans(nats_conn) if s["name"] == "swarm.loop.iteration"]
        assert iterations and all(s["status"] == "OK" for s in iterations)
        states = swarm.states()
        assert all(states[n]["statename"] == "RUNNING" for n in (*PROGRAMS, "executor2"))
        assert not (swarm.home / "spans.jsonl").exists(), "nothing went to the file bus"
        print(
            f"\nloop on JetStream: {loop_s:.1f}s, {len(runs)} commands by {len(owners)} executors"
        )
