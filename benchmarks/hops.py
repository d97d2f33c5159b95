"""Hop latency: source span end → the command's CLI span on the bus, via real agent + executor;
unloaded, and with other services' spans arriving in the background (benchmarks.background)
through a real receiver, in alternated blocks on the same swarm.

python -m benchmarks.hops [HOPS] [--rate SPANS_PER_S] [--via receiver|bus]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import background
from swarmsh.bus.follower import Follower
from swarmsh.bus.records import SpanRecord
from swarmsh.telemetry import Telemetry, setup_telemetry

SETTLE_S = 0.5  # after the load starts or stops, before hops are timed again
# Hops start every SPACING_S, as separate events do: back to back, each would also meet the
# tail of the one before (roberts handling and committing the CLI span it just saw).
SPACING_S = 0.02
HOP = "swarmsh.roberts.call-to-order"
PARTS = (HOP, "swarm.loop.iteration", "swarmsh.command.execute")  # a hop's spans after its source


def _start(home: Path, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv],
        env={**os.environ, "SWARMSH_HOME": str(home), **(env or {})},
        stdout=subprocess.PIPE if argv[1] == "benchmarks.background" else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],  # where `-m benchmarks.…` is found
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Hop:
    """One hop's latency and its parts, from the spans' own clocks (ms). The parts add up to
    the total; `source_write` overlaps `to_agent` (the agent may wake before the fsync ends)."""

    total: float
    to_agent: float  # source span end → roberts starts handling it (write, wake, read, parse)
    to_executor: float  # → the executor starts the command (rule, commit, queue, wake)
    execution: float  # → the command's CLI span ends
    to_watcher: float  # → that span is on the bus and seen (write, fsync, reader wakes)
    source_write: float  # source span end → its locked, fsynced bus write returned


class Swarmlet:
    """roberts + executor on a fresh home (and the receiver when the load goes through it),
    with this process writing source spans and watching for the hops' CLI spans."""

    def __init__(self, home: Path, receiver: bool, spacing: float) -> None:
        self.home, self.bus = home, home / "spans.jsonl"
        self.bus.touch(mode=0o600)
        self.procs: list[subprocess.Popen[str]] = []
        self.grpc = f"127.0.0.1:{_free_port()}"
        daemons = ["swarmsh.agents.roberts", "swarmsh.executor"]
        for module in daemons:
            self.procs.append(_start(home, ["-m", module]))
        if receiver:
            env = {"SWARMSH_OTLP_GRPC_ADDR": self.grpc, "SWARMSH_OTLP_HTTP_ADDR": ""}
            self.procs.append(_start(home, ["-m", "swarmsh.receiver"], env))
        self.telemetry: Telemetry = setup_telemetry("swarmsh-cli", self.bus, otlp=False)
        self.watcher: Follower[SpanRecord] = Follower(
            self.bus,
            reader="bench",
            parse=SpanRecord.from_json,
            deadletter=None,
            start="end",
            accept=lambda line: b'"swarm' in line,  # the load's spans are not parsed
        )
        locks = [home / "state" / f"{n}.lock" for n in ("roberts", "executor")]
        ready = [*locks, *([home / "state" / "receiver.json"] if receiver else [])]
        deadline = time.monotonic() + 30
        while not all(p.exists() for p in ready):  # each daemon holds its lock / wrote status
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError("the swarm did not start")
            time.sleep(0.05)
        time.sleep(SETTLE_S)
        self.counter = 0
        self.spacing = spacing
        self._due = time.monotonic()

    def hop(self) -> Hop:
        """Open a motion in a fresh meeting; roberts emits call-to-order, the executor runs it."""
        self.counter += 1
        i = self.counter
        self._due = max(self._due + self.spacing, time.monotonic())
        time.sleep(max(0.0, self._due - time.monotonic()))
        attrs = {
            "swarm.agent": "roberts",
            "swarm.trigger": "open",
            "roberts.motion_id": f"m{i}",
            "roberts.meeting_id": f"meeting{i}",
            "roberts.motion.kind": "general",
        }
        with self.telemetry.tracer.start_as_current_span(
            "swarmsh.roberts.open", attributes=attrs
        ) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            span_id = format(span.get_span_context().span_id, "016x")
        self.telemetry.flush_bus()
        written = time.time()
        source_end = span.end_time / 1e9  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        trace: dict[str, SpanRecord] = {}
        seen = None
        # The hop ends when its CLI span is seen; its other spans (roberts' iteration span may
        # be written after it) are awaited only for the breakdown.
        while len(trace) < 3 and time.monotonic() < deadline:
            for record, _ in self.watcher.poll(1.0) or ():
                if record.trace_id != trace_id or record.name not in PARTS:
                    continue
                if record.name == HOP and seen is None:
                    seen = time.time()
                if record.name != "swarm.loop.iteration" or record.parent_span_id == span_id:
                    trace[record.name] = record
        if seen is None or len(trace) < 3:
            raise RuntimeError(f"hop {i} did not complete: saw {sorted(trace)}")
        iteration = trace["swarm.loop.iteration"]
        execute, cli = trace["swarmsh.command.execute"], trace[HOP]
        ms = lambda a, b: (b - a) * 1000  # noqa: E731
        return Hop(
            total=ms(source_end, seen),
            to_agent=ms(source_end, iteration.timestamp),
            to_executor=ms(iteration.timestamp, execute.timestamp),
            execution=ms(execute.timestamp, cli.end),
            to_watcher=ms(cli.end, seen),
            source_write=ms(source_end, written),
        )

    def close(self) -> None:
        self.watcher.close()
        self.telemetry.shutdown()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)


@contextmanager
def swarmlet(receiver: bool = False, spacing: float = SPACING_S) -> Iterator[Swarmlet]:
    with tempfile.TemporaryDirectory(prefix="swh-hops-") as tmp:
        swarm = Swarmlet(Path(tmp), receiver, spacing)
        try:
            yield swarm
        finally:
            swarm.close()


def summary(hops: list[Hop]) -> dict[str, Any]:
    totals = sorted(h.total for h in hops)
    parts = ("to_agent", "to_executor", "execution", "to_watcher", "source_write")
    return {
        "hops": len(hops),
        "median_ms": round(statistics.median(totals), 2),
        "p99_ms": round(totals[max(0, int(len(totals) * 0.99) - 1)], 2),
        "max_ms": round(totals[-1], 2),
        "median_parts_ms": {
            p: round(statistics.median(getattr(h, p) for h in hops), 2) for p in parts
        },
        "p99_parts_ms": {
            p: round(sorted(getattr(h, p) for h in hops)[max(0, int(len(hops) * 0.99) - 1)], 2)
            for p in parts
        },
    }


def measure(hops: int = 200, warmup: int = 10, spacing: float = SPACING_S) -> dict[str, Any]:
    """`hops` hops one at a time on an otherwise idle swarm."""
    with swarmlet(spacing=spacing) as swarm:
        for _ in range(warmup):
            swarm.hop()
        return summary([swarm.hop() for _ in range(hops)])


def measure_loaded(
    hops: int = 200,
    rate: float = 2000.0,
    via: str = "receiver",
    blocks: int = 4,
    warmup: int = 10,
    spacing: float = SPACING_S,
) -> dict[str, Any]:
    """`hops` hops under `rate` spans/s of other services' spans and `hops` without, in
    `blocks` alternated blocks each on the same swarm (the load paused with SIGSTOP)."""
    with swarmlet(via == "receiver", spacing) as swarm:
        target = ["--grpc", swarm.grpc] if via == "receiver" else ["--bus", str(swarm.bus)]
        load = _start(swarm.home, ["-m", "benchmarks.background", "--rate", str(rate), *target])
        loaded: list[Hop] = []
        idle: list[Hop] = []
        on_s, on_since = 0.0, None  # how long the load ran
        try:
            assert load.stdout is not None and load.stdout.readline().strip() == "ready"
            on_since = time.monotonic()
            for _ in range(warmup):
                swarm.hop()
            for block in range(2 * blocks):
                if block % 2:  # unloaded
                    load.send_signal(signal.SIGSTOP)
                    if on_since is not None:
                        on_s, on_since = on_s + time.monotonic() - on_since, None
                elif on_since is None:
                    load.send_signal(signal.SIGCONT)
                    on_since = time.monotonic()
                time.sleep(SETTLE_S)
                hopped = [swarm.hop() for _ in range(max(1, hops // blocks))]
                (idle if block % 2 else loaded).extend(hopped)
        finally:
            load.send_signal(signal.SIGCONT)
            load.terminate()
            if on_since is not None:
                on_s += time.monotonic() - on_since
            out, _ = load.communicate(timeout=30)
        on_bus = _count(swarm.bus, b'"service.name":"%s"' % background.SERVICE.encode())
    result = summary(loaded)
    result["background_via"] = via
    result["background_target_spans_per_s"] = rate
    result["background_spans_per_s"] = round(on_bus / on_s)
    result["background_spans_sent"] = int(out.split()[-1]) if out.split() else 0
    result["background_spans_on_bus"] = on_bus
    reference = summary(idle)
    result["reference_unloaded_median_ms"] = reference["median_ms"]
    result["reference_unloaded_p99_ms"] = reference["p99_ms"]
    result["reference_unloaded_median_parts_ms"] = reference["median_parts_ms"]
    return result


def _count(path: Path, needle: bytes) -> int:
    with open(path, "rb") as handle:
        return sum(needle in line for line in handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("hops", type=int, nargs="?", default=200)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--via", choices=("receiver", "bus"), default="receiver")
    parser.add_argument("--spacing", type=float, default=SPACING_S, help="s between hop starts")
    args = parser.parse_args()
    print("unloaded:", measure(args.hops, spacing=args.spacing))
    print("loaded:  ", measure_loaded(args.hops, args.rate, args.via, spacing=args.spacing))


if __name__ == "__main__":
    main()
