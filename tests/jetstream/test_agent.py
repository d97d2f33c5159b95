"""An agent on JetStream: a real `python -m swarmsh.agents.roberts` process against a real
nats-server, its commands on the commands stream, its state in its key-value bucket, and
kill -9 at each instant of a batch's commit losing and repeating nothing."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from swarmsh.agents.runner import command_id
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM
from tests.agents.helpers import motion_cycle, write_spans
from tests.jetstream.helpers import (
    entity,
    settled,
    spans,
    start,
    stop,
    stream_last_seq,
    stream_messages,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("nats_env")


def _expected(ids: list[str], cycles: int) -> set[str]:
    want = set()
    for k in range(cycles):
        want.add(command_id("roberts", ids[4 * k], "call-to-order"))
        want.add(command_id("roberts", ids[4 * k + 3], "sprint-plan"))
    return want


def _command_ids(conn: NatsConnection) -> list[str]:
    import orjson

    return [orjson.loads(m.data)["id"] for m in stream_messages(conn, COMMANDS_STREAM)]


def test_agent_follows_its_prefix_emits_and_keeps_state(
    tmp_path: Path, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    agent = start("swarmsh.agents.roberts", home, tmp_path / "roberts.log")
    try:
        ids = write_spans(
            home / "unused", [s for i in (1, 2, 3) for s in motion_cycle(f"s{i}", f"m{i}", i, "t")]
        )
        write_spans(home / "unused", [("swarmsh.scrum.daily", {"scrum.team_id": "t"})])
        want = _expected(ids, 3)
        wait_until(lambda: set(_command_ids(nats_conn)) == want, 20, "roberts' six commands")
        assert entity(nats_conn, "roberts", "motion:s2")["state"] == "PASSED"
        # one iteration span per roberts span, none for the scrum span (filtered by the server)
        iterations = [s for s in spans(nats_conn) if s["name"] == "swarm.loop.iteration"]
        assert sorted(s["parent_span_id"] for s in iterations) == sorted(ids)
        # restarted (killed), it resumes from its durable consumer: nothing again
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        before = stream_last_seq(nats_conn, COMMANDS_STREAM)
        agent = start("swarmsh.agents.roberts", home, tmp_path / "roberts.log")
        more = write_spans(home / "unused", motion_cycle("s4", "m4", 4, "t"))
        want |= _expected(more, 1)
        wait_until(lambda: set(_command_ids(nats_conn)) == want, 20, "the fourth cycle")
        assert stream_last_seq(nats_conn, COMMANDS_STREAM) == before + 2
    finally:
        stop(agent)


@pytest.mark.parametrize(
    "instant", ["agent-before-journal", "agent-after-journal", "agent-before-ack"]
)
def test_kill_at_each_commit_instant_applies_once(
    instant: str, tmp_path: Path, nats_conn: NatsConnection
) -> None:
    """Killed after its commands and spans were acknowledged but before (or while) its state
    was committed, the agent's restart re-emits the same ids (dropped by the server), applies
    each state change once (a second `open` of a motion would be an ERROR transition), and
    adds no iteration span twice."""
    home = tmp_path / "home"
    log = tmp_path / "roberts.log"
    armed = start("swarmsh.agents.roberts", home, log, instant)
    try:
        ids = write_spans(home / "unused", motion_cycle("s1", "m1", 1, "t"))
        assert armed.wait(20) == -signal.SIGKILL, log.read_text()
    finally:
        stop(armed)
    agent = start("swarmsh.agents.roberts", home, log)
    try:
        want = _expected(ids, 1)
        wait_until(lambda: entity(nats_conn, "roberts", "motion:s1") is not None, 20, "state")
        wait_until(
            lambda: (entity(nats_conn, "roberts", "motion:s1") or {}).get("state") == "PASSED",
            20,
            "the motion passed",
        )
        wait_until(lambda: set(_command_ids(nats_conn)) == want, 20, "the two commands")
        wait_until(lambda: settled(nats_conn, "roberts"), 20, "every message acknowledged")
        commands = _command_ids(nats_conn)
        assert Counter(commands) == Counter(want)  # each once on the stream
        iterations = [s for s in spans(nats_conn) if s["name"] == "swarm.loop.iteration"]
        assert Counter(s["parent_span_id"] for s in iterations) == Counter(ids)
        assert all(s["status"] == "OK" for s in iterations), "a state change applied twice"
    finally:
        stop(agent)


def test_agent_and_executor_started_before_the_server_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daemons started first (a host booting, the server restarting) wait for it, then work."""
    from swarmsh.bus import backend
    from swarmsh.bus.jetstream.settings import BusSettings
    from tests.jetstream.servers import NatsServer

    server = NatsServer(tmp_path / "late-store")
    monkeypatch.setenv("SWARMSH_BUS", server.url)
    monkeypatch.setenv("SWARMSH_NATS_TIMEOUT_S", "1")
    home = tmp_path / "home"
    daemons = [
        start("swarmsh.agents.roberts", home, tmp_path / "roberts.log"),
        start("swarmsh.executor", home, tmp_path / "executor.log"),
    ]
    try:
        wait_until(lambda: "retrying" in (tmp_path / "roberts.log").read_text(), 20, "a retry")
        assert all(d.poll() is None for d in daemons)
        server.start()
        backend.close_connection()
        settings = BusSettings.from_env().nats
        assert settings is not None
        conn = NatsConnection.open(settings, name="test")
        try:
            ids = write_spans(home / "unused", motion_cycle("late", "late-meeting", 1, "t"))
            called = command_id("roberts", ids[0], "call-to-order")
            wait_until(
                lambda: any(
                    s["attributes"].get("swarm.command.id") == called
                    and s["name"] == "swarmsh.roberts.call-to-order"
                    for s in spans(conn)
                ),
                30,
                "the meeting called to order by the executor",
            )
        finally:
            conn.close()
    finally:
        for daemon in daemons:
            stop(daemon)
        server.kill()
        backend.close_connection()


def test_finished_entities_are_forgotten_after_the_retention(nats_conn: NatsConnection) -> None:
    from swarmsh.agents.base import EntityState
    from swarmsh.bus.jetstream.state import KvStateStore
    from swarmsh.bus.jetstream.streams import ensure_bucket

    acked: list[int] = []
    store = KvStateStore(nats_conn, ensure_bucket(nats_conn, "swarmsh-state-t"), acked.append)
    updates = {"motion:a": EntityState("PASSED"), "motion:b": EntityState("OPEN")}
    store.commit("t", {"seq": 7}, updates, frozenset({"PASSED"}))
    assert acked == [7]
    assert store.recover() == 7
    assert store.prune(0.0) == 0  # not older than the epoch: kept
    assert store.prune(2**32) == 1  # finished: forgotten; open ones stay
    assert set(store.get(["motion:a", "motion:b"])) == {"motion:b"}
