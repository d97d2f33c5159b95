"""The receiver's figures: sustained ingest over OTLP/gRPC and OTLP/HTTP (requests of 512 spans,
SWARMSH_FSYNC=always) beside protobuf decoding alone in the same run; p99 request latency at
half that rate; the receiver's RSS under that load.

python -m benchmarks.receiver [--seconds S] [--clients N] [--out benchmarks/receiver.json]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.receiver.convert import convert

SPANS_PER_REQUEST = 512
BODIES = 160  # 81,920 distinct spans: more than the receiver's de-duplication window
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def make_body(rng: random.Random) -> bytes:
    """512 spans as a typical instrumented service sends them: 8 attributes, one event."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (("service.name", "checkout"), ("host.name", "web-3"), ("k8s.pod", "p-7")):
        rs.resource.attributes.add(key=key).value.string_value = value
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.flask", "0.48b0"
    trace_id = rng.randbytes(16)
    now = time.time_ns()
    for i in range(SPANS_PER_REQUEST):
        if i % 8 == 0:
            trace_id = rng.randbytes(16)
        span = ss.spans.add()
        span.trace_id, span.span_id = trace_id, rng.randbytes(8)
        if i % 8:
            span.parent_span_id = rng.randbytes(8)
        span.name, span.kind = "GET /api/orders/{id}", 2
        span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1_500_000
        for key, text in (("http.method", "GET"), ("http.route", "/api/orders/{id}")):
            span.attributes.add(key=key).value.string_value = text
        span.attributes.add(key="http.url").value.string_value = f"https://shop/api/orders/{i}"
        span.attributes.add(key="http.status_code").value.int_value = 200
        span.attributes.add(key="net.peer.port").value.int_value = 40000 + i
        span.attributes.add(key="user.vip").value.bool_value = bool(i % 2)
        span.attributes.add(key="db.rows").value.double_value = 3.5
        span.attributes.add(key="feature.flags").value.array_value.values.add().string_value = "a"
        event = span.events.add(name="cache.miss", time_unix_nano=now + 100)
        event.attributes.add(key="cache.key").value.string_value = f"order:{i}"
        span.status.code = 1
    return request.SerializeToString()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def reference(bodies: list[bytes], seconds: float = 2.0) -> dict[str, float]:
    """Protobuf decoding alone, and decoding plus our conversion, in this process."""
    out = {}
    for label, work in (
        ("decode_only", lambda b: ExportTraceServiceRequest.FromString(b)),
        ("decode_convert", lambda b: convert(ExportTraceServiceRequest.FromString(b), 1 << 20)),
    ):
        started, n = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            work(bodies[n % len(bodies)])
            n += 1
        out[label] = n * SPANS_PER_REQUEST / (time.perf_counter() - started)
    return out


class Sender:
    """Sends pre-built bodies over one transport; records each request's latency."""

    def __init__(self, transport: str, grpc_port: int, http_port: int) -> None:
        self.transport, self.grpc_port, self.http_port = transport, grpc_port, http_port
        # Every request sends the next body of the cycle, across phases and transports, so no
        # span comes back within the receiver's de-duplication window (which would skip it).
        self.next = itertools.count()

    def client(self) -> Any:
        if self.transport == "grpc":
            channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
            call = channel.unary_unary(METHOD)
            return lambda body: call(body, timeout=30)
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        headers = {"Content-Type": "application/x-protobuf"}

        def post(body: bytes) -> None:
            conn.request("POST", "/v1/traces", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

        return post

    def run(
        self, bodies: list[bytes], seconds: float, clients: int, rate: float | None = None
    ) -> dict[str, Any]:
        """`clients` threads sending for `seconds`, as fast as answered or at `rate` spans/s."""
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds
        interval = clients * SPANS_PER_REQUEST / rate if rate else 0.0

        def loop(offset: int) -> None:
            send = self.client()
            due = time.monotonic() + (interval * offset / clients)
            while (now := time.monotonic()) < stop_at:
                if interval:
                    if now < due:
                        time.sleep(due - now)
                    due += interval
                started = time.perf_counter()
                try:
                    send(bodies[next(self.next) % len(bodies)])
                except Exception:
                    with lock:
                        errors[0] += 1
                    continue
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        return {
            "spans_per_s": len(latencies) * SPANS_PER_REQUEST / elapsed,
            "requests": len(latencies),
            "errors": errors[0],
            "p50_ms": pick(0.50) if latencies else None,
            "p99_ms": pick(0.99) if latencies else None,
        }


def measure(seconds: float = 6.0, clients: int = 4) -> dict[str, Any]:
    """Both transports, saturated for `seconds` then at half that rate, on one receiver."""
    rng = random.Random(7)
    bodies = [make_body(rng) for _ in range(BODIES)]
    results: dict[str, Any] = {
        "request_bytes": len(bodies[0]),
        "reference": reference(bodies, min(2.0, seconds)),
    }
    with tempfile.TemporaryDirectory(prefix="swh-rx-", dir=os.getcwd()) as tmp:  # a real disk
        grpc_port, http_port = free_port(), free_port()
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            SWARMSH_HOME=str(home),
            SWARMSH_FSYNC="always",
            SWARMSH_OTLP_GRPC_ADDR=f"127.0.0.1:{grpc_port}",
            SWARMSH_OTLP_HTTP_ADDR=f"127.0.0.1:{http_port}",
            SWARMSH_LOG_LEVEL="WARNING",
        )
        receiver = subprocess.Popen([sys.executable, "-m", "swarmsh.receiver"], env=env)
        try:
            while not (home / "state" / "receiver.json").exists():
                time.sleep(0.05)
            cycle = itertools.count()
            for transport in ("grpc", "http"):
                sender = Sender(transport, grpc_port, http_port)
                sender.next = cycle
                warm = sender.run(bodies, min(1.0, seconds), clients)
                cpu0 = cpu_s(receiver.pid)
                full = sender.run(bodies, seconds, clients)
                cpu = cpu_s(receiver.pid) - cpu0
                full["receiver_cpu_s_per_s"] = cpu / seconds
                full["spans_per_cpu_s"] = full["spans_per_s"] * seconds / cpu
                full["rss_mb"], _ = rss_mb(receiver.pid)
                half = sender.run(bodies, seconds, 2, rate=full["spans_per_s"] / 2)
                half["rss_mb"], half["rss_peak_mb"] = rss_mb(receiver.pid)
                results[transport] = {"warm_up": warm, "saturated": full, "half_rate": half}
            lines = sum(block.count(b"\n") for block in _blocks(home / "spans.jsonl"))
            sent = (
                sum(r[k]["requests"] for r in (results["grpc"], results["http"]) for k in r)
                * SPANS_PER_REQUEST
            )
            results["bus_lines"], results["spans_acknowledged"] = lines, sent
        finally:
            receiver.terminate()
            receiver.wait(30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/receiver.json"))
    args = parser.parse_args()
    results = measure(args.seconds, args.clients)
    _print(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def _blocks(path: Path) -> Any:
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            yield block


def _print(r: dict[str, Any]) -> None:
    ref = r["reference"]
    print(f"request: {SPANS_PER_REQUEST} spans, {r['request_bytes']} bytes protobuf")
    print(f"reference, protobuf decoding alone:   {ref['decode_only']:>10,.0f} spans/s")
    print(f"in-process decode + convert to lines: {ref['decode_convert']:>10,.0f} spans/s")
    for transport in ("grpc", "http"):
        full, half = r[transport]["saturated"], r[transport]["half_rate"]
        print(
            f"{transport:>4}: {full['spans_per_s']:>9,.0f} spans/s sustained "
            f"(receiver {full['receiver_cpu_s_per_s']:.2f} cores, "
            f"{full['spans_per_cpu_s']:,.0f} spans per CPU-second), p99 {full['p99_ms']:.1f} ms; "
            f"at half rate {half['spans_per_s']:,.0f} spans/s: p50 {half['p50_ms']:.1f} ms, "
            f"p99 {half['p99_ms']:.1f} ms; RSS {half['rss_mb']:.0f} MB "
            f"(peak {half['rss_peak_mb']:.0f} MB); errors {full['errors'] + half['errors']}"
        )
    print(f"bus lines {r['bus_lines']:,}, spans acknowledged {r['spans_acknowledged']:,}")


if __name__ == "__main__":
    main()
