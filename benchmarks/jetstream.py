"""The file bus and JetStream side by side, in one run: hop latency, an agent's throughput on a
large stream at 2 % relevance, and the end-to-end rate of commands executed with one and two
executors (JetStream only: the file bus's queue has one executor per home by design).

python -m benchmarks.jetstream [--quick | --smoke] [--out FILE]   (not part of `make bench`)

Each JetStream figure runs against its own `nats-server -js` on a loopback port with a
temporary store (R1, file storage); every process is real (agent, executors as daemons), and
the spans published for the workload go through the same sink the CLI uses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import hops, workloads
from benchmarks.jsload import (
    agent_drain_seconds,
    nats_server,
    publish_bus_file,
    wait_consumers,
)

# hops, stream spans, commands
SIZES = {"smoke": (5, 5_000, 20), "quick": (50, 100_000, 100), "full": (200, 1_000_000, 500)}
OPEN = "swarmsh.roberts.open"
CALL = "swarmsh.roberts.call-to-order"


def _daemon(home: Path, module: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, "SWARMSH_HOME": str(home), "SWARMSH_FSYNC": "never", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def _daemons(home: Path, env: dict[str, str], executors: int) -> Iterator[None]:
    procs = [_daemon(home, "swarmsh.agents.roberts", env)]
    for i in range(executors):
        extra = {"SWARMSH_EXECUTOR_ID": f"x{i}"} if executors > 1 else {}
        procs.append(_daemon(home, "swarmsh.executor", {**env, **extra}))
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)


def _open(telemetry: Any, i: int, tag: str) -> tuple[str, float]:
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


def _has(trace_id: str) -> Callable[[dict[str, float]], bool]:
    return lambda seen: trace_id in seen


def _stats(latencies_ms: list[float]) -> dict[str, Any]:
    latencies_ms.sort()
    return {
        "hops": len(latencies_ms),
        "median_ms": round(statistics.median(latencies_ms), 2),
        "p99_ms": round(latencies_ms[max(0, int(len(latencies_ms) * 0.99) - 1)], 2),
        "max_ms": round(latencies_ms[-1], 2),
    }


def hops_nats(count: int, warmup: int = 10) -> dict[str, Any]:
    """As benchmarks.hops on the file bus: each open's end to its command's CLI span."""
    from swarmsh.telemetry import setup_telemetry

    with tempfile.TemporaryDirectory(prefix="swj-hops-") as tmp, nats_server(Path(tmp)) as url:
        home = Path(tmp) / "home"
        os.environ["SWARMSH_BUS"] = url
        with _daemons(home, {"SWARMSH_BUS": url}, 1):
            wait_consumers(url, ("roberts", "executor"))
            watcher = CallWatcher(url)
            telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False)
            latencies = []
            try:
                for i in range(count + warmup):
                    trace_id, end = _open(telemetry, i, "h")
                    watcher.wait(_has(trace_id), 10)
                    if i >= warmup:
                        latencies.append((watcher.seen[trace_id] - end) * 1000)
            finally:
                telemetry.shutdown()
                watcher.close()
                _forget_connection()
    return _stats(latencies)


def commands_nats(count: int, executors: int) -> dict[str, Any]:
    """`count` opens published at once; commands executed per second from the first open to
    the last command's CLI span."""
    from swarmsh.telemetry import setup_telemetry

    with tempfile.TemporaryDirectory(prefix="swj-cmd-") as tmp, nats_server(Path(tmp)) as url:
        home = Path(tmp) / "home"
        os.environ["SWARMSH_BUS"] = url
        with _daemons(home, {"SWARMSH_BUS": url}, executors):
            names = ("roberts", "executor")
            wait_consumers(url, names)
            watcher = CallWatcher(url)
            telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False)
            try:
                began = time.time()
                for i in range(count):
                    _open(telemetry, i, "c")
                watcher.wait(lambda seen: len(seen) >= count, 300)
                elapsed = max(watcher.seen.values()) - began
            finally:
                telemetry.shutdown()
                watcher.close()
                _forget_connection()
    return {"commands": count, "executors": executors, "per_s": round(count / elapsed, 1)}


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
        with _daemons(home, {}, 1):
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
                    _open(telemetry, i, "c")
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


def agent_file(lines: int, share: float) -> dict[str, Any]:
    os.environ.pop("SWARMSH_BUS", None)
    with tempfile.TemporaryDirectory(prefix="swf-agent-") as tmp:
        workloads.make_bus(Path(tmp) / "spans.jsonl", lines, agent_share=share)
        rate = workloads.runner_throughput(Path(tmp), lines)
    return {"stream_spans": lines, "relevance": share, "stream_spans_per_s": round(rate)}


def agent_nats(lines: int, share: float) -> dict[str, Any]:
    """The roberts agent (the real runner, in this process) on a stream of `lines` spans from
    its first message: its consumer's filter makes the server skip the other 98 %."""
    with tempfile.TemporaryDirectory(prefix="swj-agent-") as tmp, nats_server(Path(tmp)) as url:
        os.environ.update(SWARMSH_BUS=url, SWARMSH_NATS_MAX_BYTES="-1")
        bus = workloads.make_bus(Path(tmp) / "spans.jsonl", lines, agent_share=share)
        last_relevant, publish_s = publish_bus_file(url, bus)
        bus.unlink()
        seconds, handled = agent_drain_seconds(Path(tmp) / "home", last_relevant)
        _forget_connection()
    return {
        "stream_spans": lines,
        "relevance": share,
        "handled": handled,
        "stream_spans_per_s": round(lines / seconds),
        "handled_per_s": round(handled / seconds),
        "publish_spans_per_s": round(lines / publish_s),
    }


def _forget_connection() -> None:
    from swarmsh.bus import backend

    backend.close_connection()


def run(mode: str) -> dict[str, Any]:
    n_hops, n_lines, n_commands = SIZES[mode]
    out: dict[str, Any] = {"mode": mode, "file": {}, "jetstream": {}}
    out["file"]["hops"] = hops.measure(n_hops)
    out["jetstream"]["hops"] = hops_nats(n_hops)
    out["file"]["agent"] = agent_file(n_lines, 0.02)
    out["jetstream"]["agent"] = agent_nats(n_lines, 0.02)
    out["file"]["commands_1_executor"] = commands_file(n_commands)
    out["file"]["commands_2_executors"] = "n/a: one executor per home (instance lock)"
    out["jetstream"]["commands_1_executor"] = commands_nats(n_commands, 1)
    out["jetstream"]["commands_2_executors"] = commands_nats(n_commands, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: does it run?")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    results = run("smoke" if args.smoke else "quick" if args.quick else "full")
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
