"""Hop latency: source span end → the command's CLI span on the bus, via real agent + executor."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from swarmsh.bus.follower import Follower
from swarmsh.bus.records import SpanRecord
from swarmsh.telemetry import setup_telemetry


def _start(home: Path, module: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SWARMSH_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def measure(hops: int = 200, warmup: int = 10) -> dict[str, Any]:
    """Open `hops` motions, each in a fresh meeting, one at a time; each makes roberts emit
    `call-to-order`, which the executor runs. Latency = when that CLI span is seen on the
    bus (inotify) minus the end of the `open` span that caused it."""
    with tempfile.TemporaryDirectory(prefix="swh-hops-") as tmp:
        home = Path(tmp)
        bus = home / "spans.jsonl"
        bus.touch(mode=0o600)
        procs = [_start(home, "swarmsh.agents.roberts"), _start(home, "swarmsh.executor")]
        telemetry = setup_telemetry("swarmsh-cli", bus, otlp=False)
        watcher: Follower[SpanRecord] = Follower(
            bus, reader="bench", parse=SpanRecord.from_json, deadletter=None, start="beginning"
        )
        try:
            while not all((home / "state" / f"{n}.lock").exists() for n in ("roberts", "executor")):
                time.sleep(0.05)  # wait for both daemons to hold their locks
            time.sleep(0.5)
            latencies = []
            for i in range(hops + warmup):
                attrs = {
                    "swarm.agent": "roberts",
                    "swarm.trigger": "open",
                    "roberts.motion_id": f"m{i}",
                    "roberts.meeting_id": f"meeting{i}",
                    "roberts.motion.kind": "general",
                }
                with telemetry.tracer.start_as_current_span(
                    "swarmsh.roberts.open", attributes=attrs
                ) as span:
                    trace_id = format(span.get_span_context().trace_id, "032x")
                telemetry.flush_bus()
                source_end = span.end_time / 1e9  # type: ignore[attr-defined]
                deadline = time.monotonic() + 10
                seen = None
                while seen is None and time.monotonic() < deadline:
                    for record, _ in watcher.poll(1.0) or ():
                        if (
                            record.trace_id == trace_id
                            and record.name == "swarmsh.roberts.call-to-order"
                        ):
                            seen = time.time()
                if seen is None:
                    raise RuntimeError(f"hop {i} did not complete")
                if i >= warmup:
                    latencies.append((seen - source_end) * 1000)
        finally:
            watcher.close()
            telemetry.shutdown()
            for p in procs:
                p.terminate()
                p.wait(10)
    latencies.sort()
    return {
        "hops": len(latencies),
        "median_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2),
        "max_ms": round(latencies[-1], 2),
    }


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
