"""Commands executed per second, for benchmarks.jetstream: end to end (opens published one by
one, as CLIs would, to each command's CLI span) and the executors' own rate (the queue filled
first by the agent, then drained: first to last CLI span, so start-up is not counted)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.jsload import cpu_seconds, nats_server, wait_consumers
from benchmarks.jsprocs import (
    CALL,
    CallWatcher,
    daemons,
    executor_names,
    forget_connection,
    open_span,
)


def commands_nats(count: int, executors: int) -> dict[str, Any]:
    """`count` opens published at once; commands executed per second from the first open to
    the last command's CLI span."""
    from swarmsh.telemetry import setup_telemetry

    with (
        tempfile.TemporaryDirectory(prefix="swj-cmd-") as tmp,
        nats_server(Path(tmp)) as (url, server),
    ):
        home = Path(tmp) / "home"
        os.environ["SWARMSH_BUS"] = url
        with daemons(home, {"SWARMSH_BUS": url}, executors) as procs:
            names = ("roberts", "executor")
            wait_consumers(url, names)
            watcher = CallWatcher(url)
            telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False)
            pids = {"nats-server": [server], "roberts": [procs[0].pid]}
            pids["executors"] = [p.pid for p in procs[1:]]
            cpu_before = {k: sum(map(cpu_seconds, v)) for k, v in pids.items()}
            try:
                began, own = time.time(), time.process_time()
                for i in range(count):
                    open_span(telemetry, i, "c")
                watcher.wait(lambda seen: len(seen) >= count, 300)
                elapsed = max(watcher.seen.values()) - began
                cores = {
                    k: round((sum(map(cpu_seconds, v)) - cpu_before[k]) / elapsed, 2)
                    for k, v in pids.items()
                }
                cores["publisher+watcher"] = round((time.process_time() - own) / elapsed, 2)
            finally:
                telemetry.shutdown()
                watcher.close()
                forget_connection()
    return {
        "commands": count,
        "executors": executors,
        "per_s": round(count / elapsed, 1),
        "cores_used": cores,  # CPU seconds per second of the run, by process
    }


def commands_file(count: int) -> dict[str, Any]:
    """The same on the file bus: one roberts agent, one executor (the only one a home has)."""
    from swarmsh.bus.follower import Follower
    from swarmsh.bus.records import SpanRecord
    from swarmsh.telemetry import setup_telemetry

    os.environ.pop("SWARMSH_BUS", None)
    with tempfile.TemporaryDirectory(prefix="swf-cmd-") as tmp:
        home = Path(tmp)
        bus = home / "spans.jsonl"
        bus.touch(mode=0o600)
        with daemons(home, {}, 1):
            while not all((home / "state" / f"{n}.db").exists() for n in ("roberts", "executor")):
                time.sleep(0.05)  # their state stores exist once they started
            time.sleep(0.5)
            telemetry = setup_telemetry("swarmsh-cli", bus, otlp=False)
            watch: Follower[SpanRecord] = Follower(
                bus, reader="bench", parse=SpanRecord.from_json, deadletter=None, start="end"
            )
            try:
                began = time.time()
                for i in range(count):
                    open_span(telemetry, i, "c")
                seen, last = 0, began
                deadline = time.monotonic() + 300
                while seen < count and time.monotonic() < deadline:
                    for record, _ in watch.poll(1.0) or ():
                        if record.name == CALL:
                            seen, last = seen + 1, time.time()
            finally:
                watch.close()
                telemetry.shutdown()
    if seen < count:
        raise RuntimeError(f"only {seen} of {count} commands ran")
    return {"commands": count, "executors": 1, "per_s": round(count / (last - began), 1)}


def drain_nats(count: int, executors: int) -> dict[str, Any]:
    """The executors' own rate: `count` opens wait on the stream, the executors start and
    settle, then roberts starts from the stream's beginning and fills the queue faster than
    they empty it; first to last command's CLI span."""
    from swarmsh.telemetry import setup_telemetry

    with tempfile.TemporaryDirectory(prefix="swj-drain-") as tmp, nats_server(Path(tmp)) as srv:
        url, home = srv[0], Path(tmp) / "home"
        os.environ["SWARMSH_BUS"] = url
        env = {"SWARMSH_BUS": url}
        watcher = CallWatcher(url)
        try:
            telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False)
            for i in range(count):
                open_span(telemetry, i, "d")
            telemetry.shutdown()
            with daemons(home, env, executors, agent=False):
                wait_consumers(url, ("executor",))
                _settle(
                    home,
                    [f"executor-x{i}" for i in range(executors)] if executors > 1 else ["executor"],
                )
                with daemons(home, env, 0, agent_args=("--from", "beginning")):
                    watcher.wait(lambda seen: len(seen) >= count, 300)
        finally:
            watcher.close()
            forget_connection()
    return _drained(count, executors, sorted(watcher.seen.values()))


def drain_file(count: int) -> dict[str, Any]:
    """The same on the file bus, with its one executor."""
    from swarmsh.bus.follower import Follower
    from swarmsh.bus.records import SpanRecord
    from swarmsh.telemetry import setup_telemetry

    os.environ.pop("SWARMSH_BUS", None)
    with tempfile.TemporaryDirectory(prefix="swf-drain-") as tmp:
        home = Path(tmp)
        bus = home / "spans.jsonl"
        telemetry = setup_telemetry("swarmsh-cli", bus, otlp=False)
        for i in range(count):
            open_span(telemetry, i, "d")
        telemetry.shutdown()
        watch: Follower[SpanRecord] = Follower(
            bus, reader="bench", parse=SpanRecord.from_json, deadletter=None, start="end"
        )
        times: list[float] = []
        try:
            with daemons(home, {}, 1, agent=False):
                _settle(home, executor_names(1))
                with daemons(home, {}, 0, agent_args=("--from", "beginning")):
                    deadline = time.monotonic() + 300
                    while len(times) < count and time.monotonic() < deadline:
                        polled = watch.poll(1.0) or ()
                        times += [time.time() for r, _ in polled if r.name == CALL]
        finally:
            watch.close()
    return _drained(count, 1, times)


def _settle(home: Path, names: list[str]) -> None:
    """Until each executor holds its instance lock, and a moment for its first poll."""
    locks = [home / "state" / f"{name}.lock" for name in names]
    _wait(lambda: all(lock.exists() and lock.read_text().strip() for lock in locks), 60, "locks")
    time.sleep(1.0)  # past start-up: its imports and first commit


def _drained(count: int, executors: int, times: list[float]) -> dict[str, Any]:
    if len(times) < count:
        raise RuntimeError(f"only {len(times)} of {count} commands ran")
    return {
        "commands": count,
        "executors": executors,
        "per_s": round((count - 1) / (times[-1] - times[0]), 1),
    }


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(0.05)
