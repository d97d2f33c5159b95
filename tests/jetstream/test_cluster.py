"""A three-node cluster on one machine with R3 streams and buckets: the spans stream's leader
is killed (SIGKILL) during a burst of published spans and the commands they cause; every span
the cluster acknowledged is there once, and every command it caused ran exactly once."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmsh.bus.jetstream.connection import NatsConnection, NatsUnavailable
from swarmsh.bus.jetstream.settings import nats_settings
from swarmsh.bus.jetstream.streams import ensure_streams
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, SPANS_STREAM
from tests.jetstream.burst import calls, check_exactly_once, open_motions, wait_consumers
from tests.jetstream.helpers import start, stop, wait_until
from tests.jetstream.servers import NATS_SERVER, NatsCluster, NatsServer, free_port

SLOW = os.environ.get("SWARMSH_SLOW") == "1"


@pytest.fixture
def cluster_conn(
    nats_cluster: NatsCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NatsConnection]:
    """The environment of a swarm on the cluster (R3), and the test's own connection."""
    for name, value in {
        "SWARMSH_BUS": nats_cluster.url,
        "SWARMSH_NATS_REPLICAS": "3",
        "SWARMSH_NATS_TIMEOUT_S": "3",
        "SWARMSH_NATS_ACK_WAIT_S": "2",  # a message the victim held comes back soon
    }.items():
        monkeypatch.setenv(name, value)
    conn = NatsConnection.open(nats_settings(nats_cluster.url), name="test")
    deadline = time.monotonic() + 30
    while True:  # the cluster elects its meta leader first
        try:
            ensure_streams(conn)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield conn
    finally:
        conn.close()


def leader(conn: NatsConnection, cluster: NatsCluster, stream: str) -> NatsServer:
    info = conn.run(conn.js.stream_info(stream))
    assert info.config.num_replicas == 3 and info.cluster is not None
    return next(s for s in cluster.servers if s.name == info.cluster.leader)


def new_leader(conn: NatsConnection, cluster: NatsCluster, old: NatsServer) -> bool:
    try:
        return leader(conn, cluster, SPANS_STREAM) is not old
    except (NatsUnavailable, StopIteration):  # reconnecting, or electing its leader
        return False


def messages(conn: NatsConnection, stream: str) -> int | None:
    try:
        return int(conn.run(conn.js.stream_info(stream)).state.messages)
    except NatsUnavailable:
        return None


@pytest.mark.parametrize(
    "rounds", [pytest.param(4, marks=pytest.mark.slow)] if SLOW else [1]
)  # fmt: skip
def test_killing_the_leader_during_a_burst_loses_no_acknowledged_span_or_command(
    rounds: int, tmp_path: Path, nats_cluster: NatsCluster, cluster_conn: NatsConnection
) -> None:
    """One round: the spans stream's leader is SIGKILLed mid-burst. More rounds (slow): each
    killed node is restarted with its store and rejoins before the next leader is killed."""
    home = tmp_path / "home"
    agent = start("swarmsh.agents.roberts", home, tmp_path / "roberts.log")
    executor = start("swarmsh.executor", home, tmp_path / "executor.log")
    acked: list[str] = []
    total = 60 * rounds
    try:
        wait_consumers(cluster_conn)
        burst = threading.Thread(
            target=lambda: acked.extend(open_motions(home, [f"r{i}" for i in range(total)]))
        )
        burst.start()
        for done in range(rounds):
            victim = leader_when_elected(cluster_conn, nats_cluster)
            at_least = 10 + 60 * done
            wait_until(lambda n=at_least: len(calls(cluster_conn)) >= n, 60, "the burst going")
            victim.kill()  # SIGKILL: no goodbye to the other two
            wait_until(lambda v=victim: new_leader(cluster_conn, nats_cluster, v), 30, "a leader")
            if done < rounds - 1:
                victim.start()  # its store: it catches up from the other two
        burst.join(60 * rounds + 30)
        assert not burst.is_alive()
        assert len(acked) >= total - 10 * rounds, acked  # two of three nodes keep accepting
        check_exactly_once(cluster_conn, acked)
        # a work queue: every command acknowledged (its leader may be electing too)
        wait_until(lambda: messages(cluster_conn, COMMANDS_STREAM) == 0, 30, "no command left")
        assert agent.poll() is None and executor.poll() is None
    finally:
        stop(agent)
        stop(executor)


def leader_when_elected(conn: NatsConnection, cluster: NatsCluster) -> NatsServer:
    deadline = time.monotonic() + 30
    while True:
        try:
            return leader(conn, cluster, SPANS_STREAM)
        except (NatsUnavailable, StopIteration):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_deployed_cluster_config_makes_a_cluster_with_r3_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/nats/cluster.conf as shipped, three nodes on loopback with their own values."""
    conf = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster.conf"
    clients, monitors, routes = ([free_port() for _ in range(3)] for _ in range(3))
    procs = []
    try:
        for i in range(3):
            env = {
                "NATS_NAME": f"nats{i + 1}",
                "NATS_LISTEN": f"127.0.0.1:{clients[i]}",
                "NATS_MONITOR": f"127.0.0.1:{monitors[i]}",
                "NATS_STORE": str(tmp_path / f"store{i}"),
                "NATS_MAX_STORE": "4GB",  # more than the spans stream reserves (1 GiB)
                "NATS_CLUSTER_LISTEN": f"127.0.0.1:{routes[i]}",
                **{f"NATS_ROUTE_{j + 1}": f"nats-route://127.0.0.1:{routes[j]}" for j in range(3)},
            }
            log = (tmp_path / f"nats{i + 1}.log").open("ab")
            procs.append(
                subprocess.Popen([NATS_SERVER, "-c", str(conf)], env=env, stdout=log, stderr=log)  # noqa: S603
            )
        url = ",".join(f"nats://127.0.0.1:{p}" for p in clients)
        monkeypatch.setenv("SWARMSH_NATS_REPLICAS", "3")
        conn = NatsConnection.open(nats_settings(url), name="test")
        try:
            wait_until(lambda: streams_made(conn), 30, "R3 streams on the deployed cluster")
            info = conn.run(conn.js.stream_info(SPANS_STREAM))
            assert info.config.num_replicas == 3 and info.cluster is not None
            members = {info.cluster.leader, *(r.name for r in info.cluster.replicas or ())}
            assert members == {"nats1", "nats2", "nats3"}
        finally:
            conn.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)


def streams_made(conn: NatsConnection) -> bool:
    try:
        ensure_streams(conn)
        return True
    except Exception:  # the cluster is still electing its meta leader
        return False
