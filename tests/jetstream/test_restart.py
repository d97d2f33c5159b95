"""A nats-server restarted with the same store: the agent and the executor (real processes)
reconnect by themselves and carry on from their durable consumers; every motion opened before,
across and after the restart is called to order exactly once, nothing missing or doubled."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.streams import ensure_streams
from tests.jetstream.burst import calls, check_exactly_once, open_motions, wait_consumers
from tests.jetstream.helpers import start, stop, wait_until
from tests.jetstream.servers import NatsServer

pytestmark = pytest.mark.usefixtures("nats_env")


def test_a_restarted_server_with_the_same_store_loses_and_doubles_nothing(
    tmp_path: Path, nats_server: NatsServer, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    ensure_streams(nats_conn)  # as the first process would
    agent = start("swarmsh.agents.roberts", home, tmp_path / "roberts.log")
    executor = start("swarmsh.executor", home, tmp_path / "executor.log")
    try:
        wait_consumers(nats_conn)
        before = open_motions(home, [f"a{i}" for i in range(10)])
        wait_until(lambda: len(calls(nats_conn)) == 10, 30, "the first ten calls")
        nats_server.stop()  # SIGTERM: a graceful stop
        nats_server.start()  # the same store, the same port
        after = open_motions(home, [f"b{i}" for i in range(10)])
        assert before + after == [*(f"a{i}" for i in range(10)), *(f"b{i}" for i in range(10))]
        check_exactly_once(nats_conn, before + after)
        assert agent.poll() is None and executor.poll() is None  # they carried on
    finally:
        stop(agent)
        stop(executor)


def test_a_server_killed_during_a_burst_loses_no_acknowledged_open(
    tmp_path: Path, nats_server: NatsServer, nats_conn: NatsConnection
) -> None:
    home = tmp_path / "home"
    ensure_streams(nats_conn)  # as the first process would
    agent = start("swarmsh.agents.roberts", home, tmp_path / "roberts.log")
    executor = start("swarmsh.executor", home, tmp_path / "executor.log")
    acked: list[str] = []
    try:
        wait_consumers(nats_conn)
        burst = threading.Thread(
            target=lambda: acked.extend(open_motions(home, [f"c{i}" for i in range(40)]))
        )
        burst.start()
        wait_until(lambda: len(calls(nats_conn)) >= 5, 30, "the burst under way")
        nats_server.kill()  # SIGKILL mid-burst: what it acknowledged must survive
        nats_server.start()
        burst.join(60)
        assert len(acked) >= 5
        check_exactly_once(nats_conn, acked)
        assert agent.poll() is None and executor.poll() is None
    finally:
        stop(agent)
        stop(executor)
