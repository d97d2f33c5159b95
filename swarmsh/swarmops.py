"""What `up`, `down`, `status` and `demo` check about the supervised swarm: whose home it
follows, who holds its daemons' instance locks, and whether every reader has committed
where it starts."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from swarmsh import startmark
from swarmsh.config import Paths
from swarmsh.daemon import lock_holder
from swarmsh.errors import SwarmshError
from swarmsh.supervisor import (
    PROGRAMS,
    READERS,
    RUNNING,
    ProcessInfo,
    SupervisorClient,
    SupervisorError,
)


class HomeMismatch(SwarmshError):
    """The command was given another home than the one the running swarm follows."""


def choose_home(chosen: Path | None, running: Path | None, record: Path) -> Path | None:
    """The home a command works on: the one it was given, else the running swarm's.

    Given one that differs from the running swarm's, it is an error: the daemons would
    follow one home while the command reads or writes the other. None: use the default.
    """
    if chosen is None or running is None:
        return chosen or running
    if chosen.resolve() == running.resolve():
        return chosen
    raise HomeMismatch(
        f"the running swarm follows the home {running} ({record}), but this command was given "
        f"{chosen} (--home or SWARMSH_HOME): use --home {running}, or unset SWARMSH_HOME, "
        f"or `swarmsh down` first to run a swarm on {chosen}"
    )


def stray_lock_holders(
    holders: Mapping[str, int | None],
    supervised: Mapping[str, Collection[int]],
    locks: Mapping[str, Path],
) -> list[str]:
    """A daemon's lock held by a pid that is not supervisord's process for that daemon: an
    orphan (of a killed supervisord, or started by hand) that makes supervisord's own daemon
    crash-loop on the lock."""
    return [
        f"{name}: pid {pid} holds {locks[name]} but is not supervisord's {name}; "
        f"stop it (kill {pid}), then swarmsh up"
        for name, pid in holders.items()
        if pid is not None and pid not in supervised.get(name, ())
    ]


def lock_problems(paths: Paths, client: SupervisorClient | None) -> list[str]:
    """The stray lock holders of the daemons of `paths`' home (client None: none supervised)."""
    locks = {name: paths.state / f"{name}.lock" for name in PROGRAMS}

    def supervised() -> dict[str, int]:
        if client is None:
            return {}
        try:
            return {p.name: p.pid for p in client.processes() if p.pid}
        except SupervisorError:
            return {}

    before = supervised()
    holders = {name: lock_holder(path) for name, path in locks.items()}
    after = supervised()
    # a daemon restarted between the two reads holds its lock under a pid only `after` knows
    pids = {name: {before.get(name, 0), after.get(name, 0)} for name in PROGRAMS}
    return stray_lock_holders(holders, pids, locks)


def starts_pending(paths: Paths) -> str:
    """On the file bus a reader has started once it committed its first checkpoint: which
    have not ("" once all have)."""
    waiting = [n for n in READERS if not startmark.committed(paths.state, n)]
    return f"no start position committed by {', '.join(waiting)}" if waiting else ""


def wait_started(
    paths: Paths,
    client: SupervisorClient,
    timeout: float,
    pending: Callable[[], str] | None = None,
) -> list[ProcessInfo]:
    """Wait until every daemon is RUNNING and every reader has started (`pending()` says
    which have not, "" once all have; by default `starts_pending`); fail at once when another
    process holds a daemon's lock (the daemon would only crash-loop)."""
    deadline = time.monotonic() + timeout
    while True:
        if strays := lock_problems(paths, client):
            raise SupervisorError("; ".join(strays))
        try:
            infos = client.processes()
        except SupervisorError:
            infos = []
        down = [f"{p.name}={p.state}" for p in infos if p.state != RUNNING]
        waiting = pending() if pending is not None else starts_pending(paths)
        if infos and not down and not waiting:
            return infos
        if time.monotonic() > deadline:
            why = ", ".join(down) or ("unreachable" if not infos else "")
            if waiting:
                why += f"{'; ' if why else ''}{waiting}"
            raise SupervisorError(
                f"the swarm did not come up within {timeout:.0f}s ({why}); "
                f"see {client.var}/<program>.log"
            )
        time.sleep(0.05)  # supervisord and the daemons' commits offer no event to wait on


def mark_start(paths: Paths) -> None:
    """Before starting the daemons: where on the bus an agent's first start begins."""
    startmark.record(paths.state, paths.bus)


def unmark_start(paths: Paths) -> None:
    """Once every reader committed: later first starts (a reset agent) begin at the end."""
    startmark.clear(paths.state)
