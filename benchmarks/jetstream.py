"""The file bus and JetStream side by side, in one run: hop latency, an agent's throughput on a
large stream at 2 % relevance, and commands executed per second with one and two executors,
end to end and by the executors alone (two on JetStream only: the file bus has one executor
per home by design).

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
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import hops, workloads
from benchmarks.jscommands import commands_file, commands_nats, drain_file, drain_nats
from benchmarks.jsload import agent_drain_seconds, nats_server, publish_bus_file, wait_consumers
from benchmarks.jsprocs import CallWatcher, daemons, forget_connection, open_span

# hops, stream spans, commands
SIZES = {"smoke": (5, 5_000, 20), "quick": (50, 100_000, 100), "full": (200, 1_000_000, 500)}


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

    with tempfile.TemporaryDirectory(prefix="swj-hops-") as tmp, nats_server(Path(tmp)) as (url, _):
        home = Path(tmp) / "home"
        os.environ["SWARMSH_BUS"] = url
        with daemons(home, {"SWARMSH_BUS": url}, 1):
            wait_consumers(url, ("roberts", "executor"))
            watcher = CallWatcher(url)
            telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False)
            latencies = []
            try:
                for i in range(count + warmup):
                    trace_id, end = open_span(telemetry, i, "h")
                    watcher.wait(_has(trace_id), 10)
                    if i >= warmup:
                        latencies.append((watcher.seen[trace_id] - end) * 1000)
            finally:
                telemetry.shutdown()
                watcher.close()
                forget_connection()
    return _stats(latencies)


def agent_file(lines: int, share: float) -> dict[str, Any]:
    os.environ.pop("SWARMSH_BUS", None)
    with tempfile.TemporaryDirectory(prefix="swf-agent-") as tmp:
        workloads.make_bus(Path(tmp) / "spans.jsonl", lines, agent_share=share)
        rate = workloads.runner_throughput(Path(tmp), lines)
    return {"stream_spans": lines, "relevance": share, "stream_spans_per_s": round(rate)}


def agent_nats(lines: int, share: float) -> dict[str, Any]:
    """The roberts agent (the real runner, in this process) on a stream of `lines` spans from
    its first message: its consumer's filter makes the server skip the other 98 %."""
    with (
        tempfile.TemporaryDirectory(prefix="swj-agent-") as tmp,
        nats_server(Path(tmp)) as (url, _),
    ):
        os.environ.update(SWARMSH_BUS=url, SWARMSH_NATS_MAX_BYTES="-1")
        bus = workloads.make_bus(Path(tmp) / "spans.jsonl", lines, agent_share=share)
        last_relevant, publish_s = publish_bus_file(url, bus)
        bus.unlink()
        seconds, handled = agent_drain_seconds(Path(tmp) / "home", last_relevant)
        forget_connection()
    return {
        "stream_spans": lines,
        "relevance": share,
        "handled": handled,
        "stream_spans_per_s": round(lines / seconds),
        "handled_per_s": round(handled / seconds),
        "publish_spans_per_s": round(lines / publish_s),
    }


def run(mode: str) -> dict[str, Any]:
    n_hops, n_lines, n_commands = SIZES[mode]
    out: dict[str, Any] = {"mode": mode, "file": {}, "jetstream": {}}
    out["file"]["hops"] = hops.measure(n_hops)
    out["jetstream"]["hops"] = hops_nats(n_hops)
    out["file"]["agent"] = agent_file(n_lines, 0.02)
    out["jetstream"]["agent"] = agent_nats(n_lines, 0.02)
    # end to end: opens published one by one, as CLIs would, to each command's CLI span
    out["file"]["commands_1_executor"] = commands_file(n_commands)
    out["jetstream"]["commands_1_executor"] = commands_nats(n_commands, 1)
    out["jetstream"]["commands_2_executors"] = commands_nats(n_commands, 2)
    # the executors alone: the queue filled first, then drained
    out["file"]["drain_1_executor"] = drain_file(n_commands)
    out["jetstream"]["drain_1_executor"] = drain_nats(n_commands, 1)
    out["jetstream"]["drain_2_executors"] = drain_nats(n_commands, 2)
    out["file"]["two_executors"] = "n/a: one executor per home (its instance lock)"
    out["machine"] = {"cpus": os.cpu_count(), "nats_server": _server_version()}
    return out


def _server_version() -> str:
    import shutil

    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    run = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return run.stdout.strip()


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
