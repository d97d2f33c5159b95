"""The shipper's figures: spans/s from the bus to a real OTLP receiver (gRPC and HTTP, in its own
process, decoding every request) beside encoding alone (bus line → protobuf bytes) in the same
run; the shipper's peak RSS; and that every span arrived.

python -m benchmarks.shipper [--spans N] [--out benchmarks/shipper.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from swarmsh.bus.records import dumps_line
from swarmsh.shipper.encode import encode_batch, encode_line

BATCH = 2048
TARGET_SPANS_S = 30_000
TARGET_RSS_MB = 80.0

# A real OTLP receiver: decodes every request (gRPC and HTTP/protobuf) and counts its spans.
RECEIVER = r"""
import signal, sys, threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as rpc
count = [0]
lock = threading.Lock()
def take(request):
    n = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    with lock:
        count[0] += n
class Svc(rpc.TraceServiceServicer):
    def Export(self, request, context):
        take(request)
        return pb.ExportTraceServiceResponse()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        take(pb.ExportTraceServiceRequest.FromString(body))
        body = pb.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
options = [("grpc.max_receive_message_length", 64 << 20)]
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=options)
rpc.add_TraceServiceServicer_to_server(Svc(), server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
http = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), H)
threading.Thread(target=http.serve_forever, daemon=True).start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
print("ready", flush=True)
done.wait()
print(count[0], flush=True)
"""


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


def ship(lines: list[bytes], protocol: str) -> dict[str, Any]:
    """Start the shipper on an empty bus, append `lines` at once, time until all is committed."""
    grpc_port, http_port = free_port(), free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(grpc_port), str(http_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
    port = grpc_port if protocol == "grpc" else http_port
    with tempfile.TemporaryDirectory(prefix="swh-ship-") as tmp:
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
        shipper = subprocess.Popen(
            [sys.executable, "-m", "swarmsh.shipper", "--from", "beginning"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        while committed(home / "state") < 0:
            time.sleep(0.01)
        data = b"".join(lines)
        began = time.perf_counter()
        with open(bus, "ab") as handle:
            handle.write(data)
        while committed(home / "state") < len(data):
            time.sleep(0.005)
        took = time.perf_counter() - began
        rss = vm_hwm_mb(shipper.pid)
        shipper.send_signal(signal.SIGTERM)
        shipper.wait(30)
    receiver.send_signal(signal.SIGTERM)
    out, _ = receiver.communicate(timeout=30)
    received = int(out.strip().splitlines()[-1])
    return {
        "spans_per_s": round(len(lines) / took),
        "peak_rss_mb": round(rss, 1),
        "received": received,
        "lost": len(lines) - received,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = make_lines(args.spans, random.Random(7))
    runs: dict[str, list[dict[str, Any]]] = {"grpc": [], "http/protobuf": []}
    encode: list[float] = []
    for _ in range(args.runs):  # alternated, so a noisy neighbour hits every figure alike
        encode.append(encode_only(lines))
        for protocol, results in runs.items():
            results.append(ship(lines, protocol))
    result: dict[str, Any] = {"spans": args.spans, "runs": args.runs}
    result["reference_encode_only_spans_per_s"] = round(sorted(encode)[len(encode) // 2])
    for protocol, results in runs.items():
        rates = sorted(r["spans_per_s"] for r in results)
        result[protocol] = {
            "shipper_spans_per_s_median": rates[len(rates) // 2],
            "shipper_spans_per_s_runs": [r["spans_per_s"] for r in results],
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in results),
            "lost": sum(r["lost"] for r in results),
            "share_of_encode_only": round(
                rates[len(rates) // 2] / result["reference_encode_only_spans_per_s"], 2
            ),  # fmt: skip
        }
    result["target"] = f">= {TARGET_SPANS_S:,} spans/s, RSS <= {TARGET_RSS_MB:.0f} MB, none lost"
    result["met"] = all(
        result[p]["shipper_spans_per_s_median"] >= TARGET_SPANS_S
        and result[p]["peak_rss_mb_max"] <= TARGET_RSS_MB
        and result[p]["lost"] == 0
        for p in runs
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
