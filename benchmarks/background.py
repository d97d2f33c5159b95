"""A background load for the hop benchmark: other services' spans reaching the bus at a paced
rate from a process of their own, in a small batch every PERIOD_S, either through the swarm's
receiver over OTLP/gRPC (as instrumented services send them) or straight onto the bus with
the bus's own writer (locked, fsynced). SIGSTOP/SIGCONT pause and resume it; ticks missed
while paused are skipped, not caught up in a burst. On SIGTERM it prints the spans it sent.

python -m benchmarks.background --rate 2000 (--grpc HOST:PORT | --bus PATH)
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import threading
import time
from collections.abc import Callable

PERIOD_S = 0.01  # 100 batches a second: 20 spans each at 2,000 spans/s
SERVICE = "shop-frontend"  # the load's spans carry this service.name, and nothing else does
NAMES = ["http.server.request", "db.query", "cache.get", "queue.publish", "rpc.call"]
GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def otlp_body(spans: int, rng: random.Random) -> bytes:
    """One ExportTraceServiceRequest of `spans` fresh spans (new ids, so the receiver's
    de-duplication never skips one), as an SDK's batch processor would send it."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = SERVICE
    ss = rs.scope_spans.add()
    ss.scope.name = "opentelemetry.instrumentation.flask"
    now = time.time_ns()
    trace_id = os.urandom(16)
    for i in range(spans):
        span = ss.spans.add()
        span.trace_id, span.span_id, span.kind = trace_id, os.urandom(8), 2
        span.name = rng.choice(NAMES)
        span.start_time_unix_nano, span.end_time_unix_nano = now - 1_250_000, now
        span.attributes.add(key="http.method").value.string_value = "GET"
        span.attributes.add(key="http.route").value.string_value = f"/api/v1/items/{i}"
        span.attributes.add(key="http.status_code").value.int_value = 200
        span.status.code = 1
    return request.SerializeToString()


def bus_lines(spans: int, rng: random.Random) -> list[bytes]:
    from swarmsh.bus.records import dumps_line

    now = time.time()
    trace_id = os.urandom(16).hex()
    return [
        dumps_line(
            {
                "name": rng.choice(NAMES),
                "trace_id": trace_id,
                "span_id": os.urandom(8).hex(),
                "parent_span_id": None,
                "kind": "SERVER",
                "timestamp": now - 0.00125,
                "duration_ms": 1.25,
                "status": "OK",
                "status_message": None,
                "sampled": True,
                "attributes": {
                    "http.method": "GET",
                    "http.route": f"/api/v1/items/{i}",
                    "http.status_code": 200,
                },
                "events": [],
                "links": [],
                "resource": {"service.name": SERVICE},
            }
        )
        for i in range(spans)
    ]


def grpc_sender(address: str) -> Callable[[int, random.Random], None]:
    import grpc

    export = grpc.insecure_channel(address).unary_unary(GRPC_METHOD)
    return lambda n, rng: export(otlp_body(n, rng), timeout=10)


def bus_sender(path: str) -> Callable[[int, random.Random], None]:
    from pathlib import Path

    from swarmsh.bus.writer import JsonlWriter

    writer = JsonlWriter(Path(path))
    return lambda n, rng: writer.append(bus_lines(n, rng))


def run(send: Callable[[int, random.Random], None], rate: float, stop: threading.Event) -> int:
    """Send `rate` spans a second in a batch every PERIOD_S until `stop`; the spans sent."""
    rng = random.Random(11)
    per_tick = max(1, round(rate * PERIOD_S))
    period = per_tick / rate
    sent = 0
    due = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now < due:
            stop.wait(due - now)
            continue
        if now - due > 10 * period:
            due = now  # paused (SIGSTOP) or starved: skip the missed ticks, no burst
        send(per_tick, rng)
        sent += per_tick
        due += period
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000.0, help="spans per second")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--grpc", help="the receiver's OTLP/gRPC address, host:port")
    target.add_argument("--bus", help="the bus file, written directly")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    send = grpc_sender(args.grpc) if args.grpc else bus_sender(args.bus)
    print("ready", flush=True)
    print(run(send, args.rate, stop), flush=True)


if __name__ == "__main__":
    main()
