"""The shipper's figures: spans/s from the bus to a real OTLP receiver (gRPC and HTTP, in its own
process, decoding every request) beside encoding alone (bus line → protobuf bytes) in the same
run; the shipper's peak RSS; that every span arrived; and, in a run where the receiver is
stopped halfway and started again on the same port, that none was lost across the outage.

python -m benchmarks.shipper [--spans N] [--runs N] [--out benchmarks/shipper.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from swarmsh.bus.records import dumps_line
from swarmsh.shipper.encode import encode_batch, encode_line

BATCH = 2048
TARGET_SPANS_S = 30_000
TARGET_RSS_MB = 80.0

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_lines(n: int, rng: random.Random) -> list[bytes]:
    """Agents' iteration spans and CLI spans as they stand on the bus: 6-8 attributes, an event
    on one in four, a link on one in eight; three services."""
    lines = []
    now = time.time()
    for i in range(n):
        record: dict[str, Any] = {
            "name": "swarm.loop.iteration" if i % 3 else "swarmsh.roberts.vote",
            "trace_id": rng.randbytes(16).hex(),
            "span_id": rng.randbytes(8).hex(),
            "parent_span_id": rng.randbytes(8).hex(),
            "kind": "INTERNAL",
            "timestamp": now + i / 1e4,
            "duration_ms": 0.123,
            "status": "OK",
            "status_message": None,
            "sampled": True,
            "attributes": {
                "swarm.agent": "roberts",
                "swarm.trigger": "vote",
                "roberts.motion_id": f"m{i % 1000}",
                "swarm.loop.depth": i % 5,
                "swarm.transition.from": "SECONDED",
                "swarm.transition.to": "VOTING",
                "swarm.command.emitted": bool(i % 2),
            },
            "events": [{"name": "vote_called", "timestamp": now, "attributes": {"n": 1}}]
            if i % 4 == 0
            else [],
            "links": [{"trace_id": "ab" * 16, "span_id": "cd" * 8, "attributes": {}}]
            if i % 8 == 0
            else [],
            "resource": {
                "service.name": ("swarmsh-roberts", "swarmsh-cli", "swarmsh-scrum")[i % 3],
                "service.version": "0.1.0",
            },  # fmt: skip
        }
        lines.append(dumps_line(record))
    return lines


def encode_only(lines: list[bytes]) -> float:
    """Spans/s of the shipper's encoding alone: parse, check, build, serialize."""
    began = time.perf_counter()
    for i in range(0, len(lines), BATCH):
        encode_batch([e for e in map(encode_line, lines[i : i + BATCH]) if e is not None])
    return len(lines) / (time.perf_counter() - began)


def committed(state: Path) -> int:
    import sqlite3

    db = state / "shipper.db"
    if not db.exists():
        return -1
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT position FROM checkpoint").fetchone()
    except sqlite3.Error:
        return -1
    return -1 if row is None else int(json.loads(row[0])["offset"])


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Receiver:
    """benchmarks.otlp_sink in a process of its own, on given ports (so a second one can take
    over the first's); `stop` returns the span ids it took."""

    def __init__(self, tmp: Path, grpc_port: int, http_port: int, stop_after: int = 0) -> None:
        self.ids_file = tmp / f"ids-{time.monotonic_ns()}"
        ports = [str(grpc_port), str(http_port)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.otlp_sink", *ports, str(self.ids_file)]
            + [str(stop_after)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the OTLP receiver did not start")
        self.ids: list[bytes] | None = None

    def stop(self) -> list[bytes]:
        if self.ids is None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            out, _ = self.process.communicate(timeout=60)
            data = self.ids_file.read_bytes()
            self.ids = [data[i : i + 8] for i in range(0, len(data), 8)]
            assert len(self.ids) == int(out.split()[-1])
        return self.ids


def ship(lines: list[bytes], protocol: str, outage: bool = False) -> dict[str, Any]:
    """Start the shipper on an empty bus, append `lines` at once, time until all is committed.
    With `outage`, the receiver goes away once it took half the spans, and a new one starts on
    the same port a moment later: what counts then is that nothing was lost."""
    grpc_port, http_port = free_port(), free_port()
    port = grpc_port if protocol == "grpc" else http_port
    with tempfile.TemporaryDirectory(prefix="swh-ship-") as tmp:
        half = len(lines) // 2 if outage else 0
        receivers = [Receiver(Path(tmp), grpc_port, http_port, stop_after=half)]
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        bus = home / "spans.jsonl"
        bus.touch(mode=0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWARMSH_"))}
        env.update(
            SWARMSH_HOME=str(home),
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        )
        if outage:  # batches small enough that the outage falls between some of them
            env["SWARMSH_SHIPPER_BATCH"] = str(min(2048, max(1, len(lines) // 10)))
        shipper = subprocess.Popen(
            [sys.executable, "-m", "swarmsh.shipper", "--from", "beginning"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            while committed(home / "state") < 0:
                time.sleep(0.01)
            data = b"".join(lines)
            began = time.perf_counter()
            with open(bus, "ab") as handle:
                handle.write(data)
            if outage:
                receivers[0].process.wait(60)  # gone, in the middle of the stream
                receivers[0].stop()
                time.sleep(1.0)  # the shipper meets the closed port and backs off
                receivers.append(Receiver(Path(tmp), grpc_port, http_port))
            while committed(home / "state") < len(data):
                time.sleep(0.005)
            took = time.perf_counter() - began
            rss = vm_hwm_mb(shipper.pid)
        finally:
            shipper.send_signal(signal.SIGTERM)
            shipper.wait(30)
            taken = [r.stop() for r in receivers]
    ids = [i for part in taken for i in part]
    sent = {bytes.fromhex(orjson.loads(line)["span_id"]) for line in lines}
    received = set(ids)
    return {
        "spans_per_s": round(len(lines) / took),
        "peak_rss_mb": round(rss, 1),
        "received": len(ids),
        "lost": len(sent - received),
        "duplicated": len(ids) - len(received),
        "received_by_each_receiver": [len(part) for part in taken],
    }


def measure(spans: int, runs: int) -> dict[str, Any]:
    """`runs` alternated runs of: encoding alone, the shipper over gRPC, over HTTP; then one
    run each with the receiver stopped and restarted halfway."""
    lines = make_lines(spans, random.Random(7))
    protocols = ("grpc", "http/protobuf")
    results: dict[str, list[dict[str, Any]]] = {p: [] for p in protocols}
    encode: list[float] = []
    for _ in range(runs):  # alternated, so a noisy neighbour hits every figure alike
        encode.append(encode_only(lines))
        for protocol in protocols:
            results[protocol].append(ship(lines, protocol))
    outages = {p: ship(lines, p, outage=True) for p in protocols}
    result: dict[str, Any] = {"spans": spans, "runs": runs}
    result["reference_encode_only_spans_per_s"] = round(statistics.median(encode))
    for protocol in protocols:
        rates = [r["spans_per_s"] for r in results[protocol]]
        result[protocol] = {
            "shipper_spans_per_s_median": round(statistics.median(rates)),
            "shipper_spans_per_s_runs": rates,
            "share_of_encode_only": round(
                statistics.median(rates) / result["reference_encode_only_spans_per_s"], 2
            ),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in results[protocol]),
            "lost": sum(r["lost"] for r in results[protocol]),
            "duplicated": sum(r["duplicated"] for r in results[protocol]),
            "outage_lost": outages[protocol]["lost"],
            "outage_duplicated": outages[protocol]["duplicated"],
            "outage_received_before_after": outages[protocol]["received_by_each_receiver"],
        }
    result["target"] = (
        f">= {TARGET_SPANS_S:,} spans/s, RSS <= {TARGET_RSS_MB:.0f} MB, none lost (outage included)"
    )
    result["met"] = all(
        result[p]["shipper_spans_per_s_median"] >= TARGET_SPANS_S
        and result[p]["peak_rss_mb_max"] <= TARGET_RSS_MB
        and result[p]["lost"] == 0
        and result[p]["outage_lost"] == 0
        for p in protocols
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = json.dumps(measure(args.spans, args.runs), indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
