"""Fixtures for the JetStream tests: real servers, nothing already running is needed.

- `nats_server`: one `nats-server -js` on a free loopback port with a temporary store
  (`tests.jetstream.servers.NatsServer`): `.url`, `.kill()` (SIGKILL), `.stop()`, and
  `.start()` again to restart it with the same store on the same port.
- `nats_cluster`: three clustered servers (`NatsCluster`): `.url` lists all three,
  `.servers[i]` can be killed and restarted one by one; use `SWARMSH_NATS_REPLICAS=3`.
- `nats_env`: the environment a process needs to use `nats_server` as its bus
  (`SWARMSH_BUS`, a short timeout), also set in this test's own environment (so
  `setup_telemetry` and `swarmsh.bus.backend.connection()` in the test process use it too).
- `nats_conn`: a `NatsConnection` to `nats_server` (closed after the test).
Tests skip when no nats-server is installed (`make test` installs it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jetstream.servers import NATS_SERVER, NatsCluster, NatsServer


def _require_server() -> None:
    if not shutil.which(NATS_SERVER):
        pytest.skip("nats-server is not installed (make test installs it)")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    _require_server()
    server = NatsServer(tmp_path / "nats-store").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    _require_server()
    cluster = NatsCluster(tmp_path / "nats-cluster").start()
    try:
        yield cluster
    finally:
        for server in cluster.servers:
            server.kill()


@pytest.fixture
def nats_env(nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from swarmsh.bus import backend

    env = {
        "SWARMSH_BUS": nats_server.url,
        "SWARMSH_NATS_TIMEOUT_S": "3",
        "SWARMSH_NATS_ACK_WAIT_S": "2",  # a killed consumer's messages come back soon
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    backend.close_connection()  # this process's shared connection: to this test's server
    yield env
    backend.close_connection()


@pytest.fixture
def nats_conn(nats_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from swarmsh.bus.jetstream.connection import NatsConnection
    from swarmsh.bus.jetstream.settings import BusSettings

    settings = BusSettings.from_env().nats
    assert settings is not None
    conn = NatsConnection.open(settings, name="test")
    try:
        yield conn
    finally:
        conn.close()
