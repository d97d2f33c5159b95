"""`swarmsh up` on a NATS bus: which local server to start, and when the swarm counts as up.

On the file bus a reader has started once it committed its first checkpoint (`swarmops`). On
JetStream a reader's position is its durable consumer, kept by the server: once every
reader's consumer exists, whatever the daemon does next begins there, so `up` waits for
every daemon RUNNING and every consumer present.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swarmsh.bus.jetstream.localserver import LocalServer
    from swarmsh.config import Paths
    from swarmsh.supervisor import ProcessInfo, SupervisorClient


def local_server() -> LocalServer | None:
    """The local nats-server this environment asks `up` to start (SWARMSH_NATS_LOCAL=1), its
    settings checked before anything starts (ConfigError); else None."""
    if not os.environ.get("SWARMSH_NATS_LOCAL"):
        return None  # the file bus imports nothing more
    from swarmsh.bus.jetstream.localserver import LocalServer, local_requested

    return LocalServer.from_env() if local_requested() else None


def wait_started(paths: Paths, client: SupervisorClient, timeout: float) -> list[ProcessInfo]:
    """`swarmops.wait_started`, where a reader has started once its durable consumer exists."""
    from swarmsh.bus import backend
    from swarmsh.bus.jetstream.inspect import missing_consumers
    from swarmsh.errors import SwarmshError
    from swarmsh.supervisor import READERS
    from swarmsh.swarmops import wait_started as wait_started_with

    def consumers_pending() -> str:
        try:
            missing = missing_consumers(backend.connection("swarmsh-up"), READERS)
        except SwarmshError as exc:  # the local server may still be starting
            return f"no durable consumers yet (JetStream: {exc})"
        return f"no durable consumer yet for {', '.join(missing)}" if missing else ""

    try:
        return wait_started_with(paths, client, timeout, consumers_pending)
    finally:
        backend.close_connection()
