"""Crash recovery of a real executor process: what proves a command ran, across rotations
and a lost ledger."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from swarmsh.bus.records import dumps_line
from swarmsh.bus.rotation import generations
from swarmsh.store import StateStore
from tests.conftest import read_jsonl
from tests.executor.test_executor import (
    SOURCE,
    TRACE,
    enqueue,
    next_command,
    start_executor,
    wait_settled,
)


def runs_of(home: Path, cid: str) -> int:
    """How many times the command ran: its OK CLI spans in every generation of the bus."""
    return sum(
        1
        for path in generations(home / "spans.jsonl")
        for s in read_jsonl(path)
        if s["name"] == "swarmsh.scrum.plan"
        and s["status"] == "OK"
        and s["attributes"].get("swarm.command.id") == cid
    )


def crash_at(home: Path, failpoint: str) -> None:
    proc = start_executor(home, SWARMSH_FAILPOINTS=failpoint)
    assert proc.wait(30) == -signal.SIGKILL


def settle(home: Path, cid: str) -> str:
    proc = start_executor(home)
    try:
        return wait_settled(home, cid)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def iteration_span(cid: str, **extra: Any) -> dict[str, Any]:
    """What the agent that emitted the command writes: an OK span carrying its id."""
    return {
        "name": "swarm.loop.iteration",
        "trace_id": TRACE,
        "span_id": "1111111111111111",
        "parent_span_id": SOURCE,
        "timestamp": time.time(),
        "status": "OK",
        "attributes": {"swarm.agent": "roberts", "swarm.command.id": cid, **extra},
    }


def append_span(home: Path, record: dict[str, Any]) -> None:
    with open(home / "spans.jsonl", "ab") as fh:
        fh.write(dumps_line(record))


def rotate(home: Path) -> None:
    """logrotate's numbered scheme: shift the older files along, then rename the live one."""
    bus = home / "spans.jsonl"
    for n in range(9, 0, -1):
        older = bus.with_name(f"spans.jsonl.{n}")
        if older.exists():
            os.rename(older, bus.with_name(f"spans.jsonl.{n + 1}"))
    os.rename(bus, bus.with_name("spans.jsonl.1"))


def test_the_agents_span_after_the_intent_does_not_pass_for_the_command(home: Path) -> None:
    enqueue(home, next_command("plan"))
    crash_at(home, "executor-after-intent")
    append_span(home, iteration_span("plan"))  # lands after the recorded intent
    assert settle(home, "plan") == "executed"
    assert runs_of(home, "plan") == 1


@pytest.mark.parametrize("rotations", [1, 2])
@pytest.mark.parametrize(
    ("failpoint", "recovered"),
    [("executor-after-flush", True), ("executor-after-intent", False)],
)
def test_a_rotation_after_a_crash_neither_loses_nor_repeats_the_command(
    home: Path, rotations: int, failpoint: str, recovered: bool
) -> None:
    enqueue(home, next_command("rot"))
    append_span(home, iteration_span("rot"))  # the intent records this bus file
    crash_at(home, failpoint)
    for _ in range(rotations):
        rotate(home)
        append_span(home, iteration_span("other", pad="x" * 4000))  # past the intent's offset
    assert settle(home, "rot") == "executed"
    assert runs_of(home, "rot") == 1
    with StateStore(home / "state" / "executor.db") as store:
        entry = store.command("rot")
    assert entry is not None and bool(entry.info.get("recovered")) is recovered


@pytest.mark.parametrize("rotated", [False, True])
def test_a_lost_ledger_does_not_run_the_queue_again(home: Path, rotated: bool) -> None:
    enqueue(home, next_command("done1"), next_command("done2"))
    assert settle(home, "done2") == "executed"
    if rotated:
        rotate(home)
    for name in ("executor.db", "executor.db-wal", "executor.db-shm"):
        (home / "state" / name).unlink(missing_ok=True)
    enqueue(home, next_command("new"))
    assert settle(home, "new") == "executed"
    assert [runs_of(home, cid) for cid in ("done1", "done2", "new")] == [1, 1, 1]


def test_a_corrupt_ledger_stops_the_executor_with_what_to_do(home: Path) -> None:
    enqueue(home, next_command("never"))
    (home / "state").mkdir(mode=0o700)
    ledger = home / "state" / "executor.db"
    ledger.write_bytes(b"this is not a database" * 400)
    ledger.chmod(0o600)
    proc = start_executor(home)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 1, out
    assert f"state database {ledger} is corrupt" in out
    assert "Traceback" not in out
    assert runs_of(home, "never") == 0
    assert not (home / "deadletter" / "executor.jsonl").exists()


def test_every_command_an_agent_emits_is_recognised_once_it_ran(home: Path) -> None:
    """Recovery knows a command ran by its CLI span's name: every command the agents emit
    must write a span named exactly as the command."""
    from swarmsh.config import Paths
    from swarmsh.executor.ledger import commands_ran
    from swarmsh.executor.runner import Executor
    from swarmsh.telemetry import setup_telemetry
    from tests.agents.test_rules import TABLE, apply
    from tests.executor.test_executor import drain

    requests = {
        r.command: r
        for agent, trigger, attrs, states, *_ in TABLE
        for r in apply(agent, trigger, attrs, states).commands
    }
    enqueue(
        home,
        *(next_command(f"c{i}", r.command, dict(r.args)) for i, r in enumerate(requests.values())),
    )
    paths = Paths(home)
    executor = Executor(paths, setup_telemetry("swarmsh-executor", paths.bus, otlp=False))
    try:
        drain(executor)
    finally:
        executor.close()
    assert commands_ran(paths.bus) == {f"c{i}": name for i, name in enumerate(requests)}
