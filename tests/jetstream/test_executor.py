"""Executors on JetStream: real `python -m swarmsh.executor` processes sharing the commands
stream; each command's effect (its CLI span) exactly once, through kill -9 at each instant;
refusals and malformed commands dead-lettered as on the file bus."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.consumer import CommandPublisher
from swarmsh.bus.jetstream.ledger import KvLedger
from swarmsh.bus.jetstream.streams import ensure_bucket, ensure_streams
from swarmsh.bus.jetstream.subjects import (
    COMMANDS_STREAM,
    COMMANDS_SUBJECT,
    EXECUTOR_CONSUMER,
    LEDGER_BUCKET,
)
from swarmsh.bus.records import CommandSource, NextCommand, dumps_line
from tests.conftest import read_jsonl
from tests.jetstream.helpers import commands_executed, settled, spans, start, stop, wait_until

pytestmark = pytest.mark.usefixtures("nats_env")
INSTANTS = [
    "executor-after-intent",  # claimed, nothing run
    "executor-before-flush",  # run, its spans captured only
    "executor-after-flush",  # spans fixed in the ledger, not published
    "executor-after-publish",  # published, the ledger not final
    "executor-before-ack",  # final, the message not acknowledged
]


def command(n: int, name: str = "swarmsh.roberts.call-to-order", **args: object) -> NextCommand:
    trace, span = os.urandom(16).hex(), os.urandom(8).hex()
    return NextCommand(
        id=f"cmd-{n}-{os.urandom(4).hex()}",
        command=name,
        args=args or {"meeting": f"m{n}"},
        reason="test",
        agent="roberts",
        source=CommandSource(trace, span, time.time()),
        traceparent=f"00-{trace}-{span}-01",
        depth=1,
        created_at=time.time(),
    )


def send(conn: NatsConnection, commands: list[NextCommand]) -> None:
    ensure_streams(conn)
    CommandPublisher(conn).append([dumps_line(c.to_dict()) for c in commands])


def check_once(conn: NatsConnection, ids: set[str]) -> dict[str, list[dict[str, object]]]:
    """Each id ran exactly once: one CLI span under one execute span; nothing else ran."""
    runs = commands_executed(spans(conn))
    assert set(runs) == ids
    for cid, pair in runs.items():
        assert len(pair) == 2, f"{cid}: {[(s['name'], s['span_id']) for s in pair]}"
        execute = next(s for s in pair if s["name"] == "swarmsh.command.execute")
        [cli] = [s for s in pair if s is not execute]
        assert cli["parent_span_id"] == execute["span_id"]
    return runs


def test_two_executors_share_the_queue_and_run_each_once(
    tmp_path: Path, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    ensure_streams(nats_conn)
    procs = [
        start("swarmsh.executor", home, tmp_path / f"ex{i}.log", SWARMSH_EXECUTOR_ID=str(i))
        for i in (1, 2)
    ]
    try:

        def both_waiting() -> bool:
            try:
                info = nats_conn.run(nats_conn.js.consumer_info(COMMANDS_STREAM, EXECUTOR_CONSUMER))
            except Exception:
                return False
            return bool(info.num_waiting >= 2)

        wait_until(both_waiting, 20, "both executors pulling")
        commands = [command(n) for n in range(40)]
        send(nats_conn, commands)
        send(nats_conn, commands[:10])  # an agent's replay re-emits: dropped by the server
        ids = {c.id for c in commands}
        wait_until(lambda: set(commands_executed(spans(nats_conn))) == ids, 30, "all 40 ran")
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 20, "acked")
        check_once(nats_conn, ids)
        ledger = KvLedger(nats_conn, ensure_bucket(nats_conn, LEDGER_BUCKET))
        owners = {ledger.get(i).value["owner"] for i in ids}  # type: ignore[union-attr]
        assert len(owners) == 2, "both executors took commands"
        assert {ledger.get(i).status for i in ids} == {"executed"}  # type: ignore[union-attr]
        # a command already executed, published again after the duplicate window, is not run
        again = commands[0]
        nats_conn.publish(COMMANDS_SUBJECT, dumps_line(again.to_dict()), msg_id="x-" + again.id)
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 20, "acked")
        check_once(nats_conn, ids)
    finally:
        for proc in procs:
            stop(proc)


@pytest.mark.parametrize("instant", INSTANTS)
def test_kill_at_each_instant_runs_once(
    instant: str, tmp_path: Path, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    log = tmp_path / "executor.log"
    commands = [command(1), command(2)]
    send(nats_conn, commands)
    armed = start("swarmsh.executor", home, log, instant)
    try:
        assert armed.wait(20) == -signal.SIGKILL, log.read_text()
    finally:
        stop(armed)
    executor = start("swarmsh.executor", home, log)
    try:
        ids = {c.id for c in commands}
        wait_until(lambda: set(commands_executed(spans(nats_conn))) == ids, 20, "both ran")
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 20, "acked")
        check_once(nats_conn, ids)
    finally:
        stop(executor)


def test_refused_and_malformed_commands_are_dead_lettered(
    tmp_path: Path, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    bad = command(1, "swarmsh.roberts.no-such-command")
    good = command(2)
    send(nats_conn, [bad, good])
    nats_conn.publish(COMMANDS_SUBJECT, b'{"id": 1}', msg_id="junk")
    executor = start("swarmsh.executor", home, tmp_path / "executor.log")
    try:
        wait_until(lambda: settled(nats_conn, EXECUTOR_CONSUMER, COMMANDS_STREAM), 20, "acked")
        check_once(nats_conn, {good.id})
        rejected = [s for s in spans(nats_conn) if s["name"] == "swarmsh.command.rejected"]
        assert [s["attributes"]["swarm.command.id"] for s in rejected] == [bad.id]
        letters = read_jsonl(home / "deadletter" / "executor.jsonl")
        reasons = sorted(letter["reason"].split(":")[0] for letter in letters)
        assert reasons == ["malformed command", "refused"], json.dumps(letters)
    finally:
        stop(executor)
