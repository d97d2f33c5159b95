"""`swarmsh up` on a NATS bus: which local server to start, and when the swarm counts as up.

On the file bus a reader has started once it committed its first checkpoint (`swarmops`). On
JetStream a reader's position is its durable consumer, kept by the server: once every
reader's consumer exists, whatever the daemon does next begins there, so `up` waits for
every daemon RUNNING and every consumer present.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swarmsh.bus.jetstream.localserver import LocalServer
    from swarmsh.config import Paths
    from swarmsh.supervisor import ProcessInfo, SupervisorClient

POLL_S = 0.1


def local_server() -> LocalServer | None:
    """The local nats-server this environment asks `up` to start (SWARMSH_NATS_LOCAL=1), its
    settings checked before anything starts (ConfigError); else None."""
    if not os.environ.get("SWARMSH_NATS_LOCAL"):
        return None  # the file bus imports nothing more
    from swarmsh.bus.jetstream.localserver import LocalServer, local_requested

    return LocalServer.from_env() if local_requested() else None


def wait_started(paths: Paths, client: SupervisorClient, timeout: float) -> list[ProcessInfo]:
    """Until every daemon is RUNNING and every reader's durable consumer exists; fail at once
    when another process holds a daemon's lock."""
    from swarmsh.bus import backend
    from swarmsh.bus.jetstream.inspect import missing_consumers
    from swarmsh.errors import SwarmshError
    from swarmsh.supervisor import READERS, RUNNING, SupervisorError
    from swarmsh.swarmops import lock_problems

    deadline = time.monotonic() + timeout
    try:
        while True:
            if strays := lock_problems(paths, client):
                raise SupervisorError("; ".join(strays))
            try:
                infos = client.processes()
            except SupervisorError:
                infos = []
            down = [f"{p.name}={p.state}" for p in infos if p.state != RUNNING]
            try:
                missing = missing_consumers(backend.connection("swarmsh-up"), READERS)
                unreachable = ""
            except SwarmshError as exc:  # the local server may still be starting
                missing, unreachable = list(READERS), str(exc)
            if infos and not down and not missing:
                return infos
            if time.monotonic() > deadline:
                why = ", ".join(down) or ("unreachable" if not infos else "")
                if missing:
                    why += f"{'; ' if why else ''}no durable consumer yet for {', '.join(missing)}"
                if unreachable:
                    why += f" (JetStream: {unreachable})"
                raise SupervisorError(
                    f"the swarm did not come up within {timeout:.0f}s ({why}); "
                    f"see {client.var}/<program>.log"
                )
            time.sleep(POLL_S)  # supervisord and the server offer no event to wait on here
    finally:
        backend.close_connection()
