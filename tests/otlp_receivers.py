"""Real OTLP receivers (gRPC and HTTP), a black-hole collector and their pytest fixtures."""

from __future__ import annotations

import gzip
import selectors
import socket
import threading
import zlib
from collections.abc import Iterable, Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import grpc
import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

__all__ = [
    "BlackholeServer",
    "GrpcOtlpReceiver",
    "HttpOtlpReceiver",
    "blackhole",
    "otlp_grpc",
    "otlp_http",
    "unused_port",
]

HOST = "127.0.0.1"
TraceRequest = trace_service_pb2.ExportTraceServiceRequest
MetricsRequest = metrics_service_pb2.ExportMetricsServiceRequest


# --- decoding -------------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as a Python value: arrays become lists, kvlists dicts, empty None."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def _status_name(code: int) -> str:
    return Status.StatusCode.Name(code).removeprefix("STATUS_CODE_")  # UNSET, OK, ERROR


def _kind_name(kind: int) -> str:
    return Span.SpanKind.Name(kind).removeprefix("SPAN_KIND_")  # INTERNAL, SERVER, ...


def flatten_spans(request: TraceRequest) -> list[dict[str, Any]]:
    out = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                out.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex() or None,
                        "attributes": attributes(span.attributes),
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                        "kind": _kind_name(span.kind),
                        "status_code": _status_name(span.status.code),
                        "status_message": span.status.message,
                        "events": [
                            {"name": event.name, "attributes": attributes(event.attributes)}
                            for event in span.events
                        ],
                        "event_times": [event.time_unix_nano for event in span.events],
                        "links": [
                            {
                                "trace_id": link.trace_id.hex(),
                                "span_id": link.span_id.hex(),
                                "attributes": attributes(link.attributes),
                            }
                            for link in span.links
                        ],
                        "scope_version": scope_spans.scope.version,
                        "start_time_unix_nano": span.start_time_unix_nano,
                        "end_time_unix_nano": span.end_time_unix_nano,
                    }
                )
    return out


def _point_value(kind: str, point: Any) -> Any:
    if kind in ("sum", "gauge"):
        field = point.WhichOneof("value")
        return getattr(point, field) if field else None
    if kind == "summary":
        return {"count": point.count, "sum": point.sum}
    return {"count": point.count, "sum": point.sum if point.HasField("sum") else None}


def flatten_metrics(request: MetricsRequest) -> list[dict[str, Any]]:
    """One dict per data point: name, type, value, attributes, resource, scope, unit."""
    out = []
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points if kind else []
                for point in points:
                    out.append(
                        {
                            "name": metric.name,
                            "type": kind,
                            "value": _point_value(kind, point),
                            "attributes": attributes(point.attributes),
                            "resource": resource,
                            "scope": scope_metrics.scope.name,
                            "unit": metric.unit,
                        }
                    )
    return out


def _metric_names(request: MetricsRequest) -> set[str]:
    return {
        metric.name
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


# --- shared store ---------------------------------------------------------------------------


class _Receiver:
    """What both receivers store and how tests read it; writes notify the waiters."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.trace_requests: list[TraceRequest] = []
        self.metric_requests: list[MetricsRequest] = []
        self.request_headers: list[dict[str, str]] = []  # lower-cased names, one dict a request

    # called by the transport threads
    def _record(self, request: TraceRequest | MetricsRequest, headers: dict[str, str]) -> None:
        with self._cond:
            if isinstance(request, TraceRequest):
                self.trace_requests.append(request)
            else:
                self.metric_requests.append(request)
            self.request_headers.append(headers)
            self._cond.notify_all()

    def spans(self) -> list[dict[str, Any]]:
        with self._cond:
            requests = list(self.trace_requests)
        return [span for request in requests for span in flatten_spans(request)]

    def metrics(self) -> list[dict[str, Any]]:
        with self._cond:
            requests = list(self.metric_requests)
        return [point for request in requests for point in flatten_metrics(request)]

    def metric_names(self) -> set[str]:
        with self._cond:
            requests = list(self.metric_requests)
        return set().union(*(_metric_names(request) for request in requests))

    def clear(self) -> None:
        with self._cond:
            self.trace_requests.clear()
            self.metric_requests.clear()
            self.request_headers.clear()

    def wait_for_spans(self, n: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """All spans received, once there are at least `n`; TimeoutError otherwise."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._span_count() >= n, timeout)
        spans = self.spans()
        if not ok:
            names = [span["name"] for span in spans]
            raise TimeoutError(f"wanted {n} spans within {timeout}s, got {len(spans)}: {names}")
        return spans

    def wait_for_metrics(self, names: Iterable[str], timeout: float = 5.0) -> set[str]:
        """The metric names received, once they include all of `names`; TimeoutError otherwise."""
        wanted = set(names)
        with self._cond:
            ok = self._cond.wait_for(lambda: wanted <= self.metric_names(), timeout)
        got = self.metric_names()
        if not ok:
            raise TimeoutError(
                f"wanted metrics {sorted(wanted - got)} within {timeout}s; got {got}"
            )
        return got

    def _span_count(self) -> int:
        return sum(
            len(scope_spans.spans)
            for request in self.trace_requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
        )

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- gRPC -----------------------------------------------------------------------------------


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: GrpcOtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: TraceRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._receiver._record(request, _grpc_headers(context))
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: GrpcOtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: MetricsRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._receiver._record(request, _grpc_headers(context))
        return metrics_service_pb2.ExportMetricsServiceResponse()


def _grpc_headers(context: grpc.ServicerContext) -> dict[str, str]:
    return {key.lower(): str(value) for key, value in context.invocation_metadata()}


class GrpcOtlpReceiver(_Receiver):
    """An OTLP/gRPC collector on 127.0.0.1 (traces and metrics), insecure, on `port` (0: one
    the OS chooses)."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self._server: grpc.Server | None = None
        self.port = port

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Self:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self), server)
        self.port = server.add_insecure_port(f"{HOST}:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None


# --- HTTP -----------------------------------------------------------------------------------

_HTTP_ROUTES: dict[str, tuple[type[Message], type[Message]]] = {
    "/v1/traces": (TraceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": (MetricsRequest, metrics_service_pb2.ExportMetricsServiceResponse),
}


def _decode_body(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class _OtlpHandler(BaseHTTPRequestHandler):
    server: _OtlpHttpServer

    def do_POST(self) -> None:  # noqa: N802
        route = _HTTP_ROUTES.get(self.path)
        if route is None:
            self._reply(404, b"")
            return
        request_type, response_type = route
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/x-protobuf":
            self._reply(415, b"")  # OTLP/JSON is not supported here
            return
        try:
            payload = _decode_body(body, self.headers.get("Content-Encoding", "").strip().lower())
            request = request_type.FromString(payload)
        except Exception as error:
            self.server.receiver.errors.append(repr(error))
            self._reply(400, b"")
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.receiver._record(request, headers)
        self._reply(200, response_type().SerializeToString())

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep pytest output clean


class _OtlpHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: HttpOtlpReceiver


class HttpOtlpReceiver(_Receiver):
    """An OTLP/HTTP (protobuf) collector on 127.0.0.1: POST /v1/traces and /v1/metrics, on
    `port` (0: one the OS chooses)."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.errors: list[str] = []  # bodies that could not be decoded (answered 400)
        self._server: _OtlpHttpServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Self:
        server = _OtlpHttpServer((HOST, self.port), _OtlpHandler)
        server.receiver = self
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how long stop() waits for the loop to notice
            name="otlp-http-receiver",
            daemon=True,
        )
        self._thread.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None


# --- a collector that never answers, and one that is not there ------------------------------


class BlackholeServer:
    """Accepts TCP connections on 127.0.0.1 and never reads or answers: a hung collector."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def connection_count(self) -> int:
        with self._cond:
            return len(self._connections)

    def wait_for_connections(self, n: int = 1, timeout: float = 5.0) -> int:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._connections) >= n, timeout):
                raise TimeoutError(f"wanted {n} connections, got {len(self._connections)}")
            return len(self._connections)

    def start(self) -> Self:
        listener = socket.create_server((HOST, 0), backlog=64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._accept_loop, name="blackhole", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake[0]:
                        return
                    conn, _addr = self._listener.accept()
                    with self._cond:
                        self._connections.append(conn)
                        self._cond.notify_all()

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._wake is not None and self._listener is not None
        self._wake[1].send(b"x")
        self._thread.join()
        self._thread = None
        for sock in (*self._wake, self._listener):
            sock.close()
        with self._cond:
            for conn in self._connections:
                conn.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unused_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def otlp_grpc() -> Iterator[GrpcOtlpReceiver]:
    """A started OTLP/gRPC receiver; `.endpoint` is http://127.0.0.1:PORT."""
    with GrpcOtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def otlp_http() -> Iterator[HttpOtlpReceiver]:
    """A started OTLP/HTTP receiver; signal URLs are f"{endpoint}/v1/traces" and /v1/metrics."""
    with HttpOtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def blackhole() -> Iterator[BlackholeServer]:
    """A started TCP listener that accepts and never answers."""
    with BlackholeServer() as server:
        yield server
