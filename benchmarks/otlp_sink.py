"""A real OTLP receiver for the shipper benchmark, in a process of its own: decodes every request
(gRPC and HTTP/protobuf) and keeps its spans' ids. On SIGTERM, or once it took STOP_AFTER spans
(if not 0: an outage in the middle of a stream), it refuses every request from then on (so no
span is acknowledged uncounted), writes the ids it took (8 bytes each, repeats kept) to
IDS_FILE, prints their number and exits.

python -m benchmarks.otlp_sink GRPC_PORT HTTP_PORT IDS_FILE STOP_AFTER
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as rpc


class Sink:
    def __init__(self, stop_after: int) -> None:
        self.ids: list[bytes] = []
        self.closed = False
        self.stop_after = stop_after
        self.lock = threading.Lock()
        self.done = threading.Event()

    def take(self, request: pb.ExportTraceServiceRequest) -> bool:
        """Keep the request's span ids; False once closed (the request must then fail)."""
        got = [
            s.span_id for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
        ]
        with self.lock:
            if self.closed:
                return False
            self.ids.extend(got)
            if self.stop_after and len(self.ids) >= self.stop_after:
                self.close()
            return True

    def close(self) -> None:
        self.closed = True
        self.done.set()


class TraceService(rpc.TraceServiceServicer):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
        if not self.sink.take(request):
            context.abort(grpc.StatusCode.UNAVAILABLE, "stopping")
        return pb.ExportTraceServiceResponse()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sink: Sink

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = self.sink.take(pb.ExportTraceServiceRequest.FromString(body))
        body = pb.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    grpc_port, http_port, ids_file, stop_after = sys.argv[1:5]
    sink = Sink(int(stop_after))
    options = [("grpc.max_receive_message_length", 64 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=options)
    rpc.add_TraceServiceServicer_to_server(TraceService(sink), server)
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    server.start()
    Handler.sink = sink
    http = ThreadingHTTPServer(("127.0.0.1", int(http_port)), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sink.done.set())
    print("ready", flush=True)
    sink.done.wait()
    with sink.lock:
        sink.close()
    with open(ids_file, "wb") as out:
        out.write(b"".join(sink.ids))
    print(len(sink.ids), flush=True)
    os._exit(0)  # no graceful stop: the requests in hand are refused, never acknowledged


if __name__ == "__main__":
    main()
