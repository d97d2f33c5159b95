"""Processes and probes for benchmarks.jetstream: the swarm's daemons, `open` spans that each
make roberts command one call-to-order, and a watcher that sees each command's CLI span."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OPEN = "swarmsh.roberts.open"
CALL = "swarmsh.roberts.call-to-order"


def _daemon(home: Path, module: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "SWARMSH_HOME": str(home), "SWARMSH_FSYNC": "never", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def executor_names(count: int) -> list[str]:
    """The executors' instance names (their locks and logs): one alone keeps the default."""
    return [f"executor-x{i}" for i in range(count)] if count > 1 else ["executor"] * count


@contextmanager
def daemons(
    home: Path,
    env: dict[str, str],
    executors: int,
    *,
    agent: bool = True,
    agent_args: tuple[str, ...] = (),
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """roberts (unless `agent` is False) and `executors` executors, stopped on leaving."""
    procs = [_daemon(home, "swarmsh.agents.roberts", env, *agent_args)] if agent else []
    for i in range(executors):
        extra = {"SWARMSH_EXECUTOR_ID": f"x{i}"} if executors > 1 else {}
        procs.append(_daemon(home, "swarmsh.executor", {**env, **extra}))
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)


def open_span(telemetry: Any, i: int, tag: str) -> tuple[str, float]:
    """One `open` in a meeting of its own (roberts commands a call-to-order); its trace id
    and end time."""
    attrs = {
        "swarm.agent": "roberts",
        "swarm.trigger": "open",
        "roberts.motion_id": f"{tag}{i}",
        "roberts.meeting_id": f"{tag}-meeting{i}",
        "roberts.motion.kind": "general",
    }
    with telemetry.tracer.start_as_current_span(OPEN, attributes=attrs) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    telemetry.flush_bus()  # one span per write, as the CLI does
    return trace_id, span.end_time / 1e9


class CallWatcher:
    """Sees each call-to-order CLI span the moment it is published (a plain subscription to
    its subject: no pull round trips in the measurement), with the time it was seen."""

    def __init__(self, url: str) -> None:
        from swarmsh.bus.jetstream.connection import NatsConnection
        from swarmsh.bus.jetstream.settings import nats_settings
        from swarmsh.bus.jetstream.subjects import span_subject

        self.seen: dict[str, float] = {}
        self._cond = threading.Condition()
        self.conn = NatsConnection.open(nats_settings(url), name="bench-watch")

        async def _on(msg: Any) -> None:
            import orjson

            with self._cond:
                self.seen.setdefault(orjson.loads(msg.data)["trace_id"], time.time())
                self._cond.notify_all()

        self.conn.run(self.conn.nc.subscribe(span_subject(CALL), cb=_on))

    def wait(self, done: Callable[[dict[str, float]], bool], timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: done(self.seen), timeout):
                raise RuntimeError(f"not done within {timeout}s ({len(self.seen)} seen)")

    def close(self) -> None:
        self.conn.close()


def forget_connection() -> None:
    """This process's bus connection is closed (the next server is another one)."""
    from swarmsh.bus import backend

    backend.close_connection()
