"""OTLP/gRPC: `TraceService/Export`, the body decoded by us (so malformed input is our answer,
not a traceback), retryable answers carrying a RetryInfo."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from swarmsh.receiver.decode import parse_protobuf
from swarmsh.receiver.ingest import Ingest
from swarmsh.receiver.outcome import RequestError
from swarmsh.receiver.settings import ReceiverSettings, parse_address
from swarmsh.receiver.stats import ReceiverStats

_log = logging.getLogger(__name__)
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
SOURCE = "otlp/grpc"


def _retry_metadata(code: grpc.StatusCode, message: str, delay_s: float) -> tuple[Any, ...]:
    """RetryInfo twice: in the google.rpc.Status details (the Collector's way, what Go and
    Java exporters read) and as `google.rpc.retryinfo-bin` (what the Python exporter reads)."""
    seconds = int(delay_s)
    info = RetryInfo(retry_delay=Duration(seconds=seconds, nanos=int((delay_s - seconds) * 1e9)))
    detail = AnyProto()
    detail.Pack(info)
    status = Status(code=code.value[0], message=message, details=[detail])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


def _span_count(request: Any) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


class TraceServiceHandler(grpc.GenericRpcHandler):
    """Serves `Export` with raw bytes in and out."""

    def __init__(self, ingest: Ingest, stats: ReceiverStats, settings: ReceiverSettings) -> None:
        self._ingest, self._stats, self._settings = ingest, stats, settings
        self._handler = grpc.unary_unary_rpc_method_handler(self._export)

    def service(self, handler_call_details: Any) -> Any:
        if handler_call_details.method == f"/{SERVICE}/Export":
            return self._handler
        return None

    def _export(self, body: bytes, context: grpc.ServicerContext) -> bytes:
        started = time.perf_counter()
        spans = 0
        try:
            metadata = dict(context.invocation_metadata())
            self._ingest.authorize(metadata.get("authorization"))
            with self._ingest.admit(len(body)):
                request = parse_protobuf(body)
                spans = _span_count(request)
                result = self._ingest.export(request, SOURCE)
        except RequestError as exc:
            answer = exc.answer
            self._stats.request(
                "grpc",
                time.perf_counter() - started,
                refused=spans if answer.retryable else 0,
                bad=not answer.retryable,
            )
            if answer.retryable:
                context.set_trailing_metadata(
                    _retry_metadata(answer.grpc_code, exc.message, self._settings.retry_after_s)
                )
            context.abort(answer.grpc_code, exc.message)
        except Exception:  # never a traceback on the wire
            _log.exception("unexpected error in Export")
            self._stats.request("grpc", time.perf_counter() - started, bad=True)
            context.abort(grpc.StatusCode.INTERNAL, "internal error (see the receiver's log)")
        self._stats.request(
            "grpc", time.perf_counter() - started, accepted=result.accepted, failed=result.rejected
        )
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.message
        return response.SerializeToString()


def start_grpc(
    settings: ReceiverSettings, ingest: Ingest, stats: ReceiverStats
) -> tuple[grpc.Server, str]:
    """A started gRPC server and the address it listens on."""
    assert settings.grpc_addr is not None
    limit = settings.max_request_bytes
    server = grpc.server(
        # Up to 4 calls per slot (bodies received, waiting for a slot), so at most
        # 4 * max_concurrency * max_request_bytes of bodies are held; more are refused by gRPC.
        ThreadPoolExecutor(
            max_workers=settings.max_concurrency * 4, thread_name_prefix="otlp-grpc"
        ),
        handlers=[TraceServiceHandler(ingest, stats, settings)],
        maximum_concurrent_rpcs=settings.max_concurrency * 4,
        options=[
            ("grpc.max_receive_message_length", limit),  # decompressed size too
            ("grpc.so_reuseport", 0),
        ],
    )
    host, _ = parse_address("address", settings.grpc_addr)
    try:
        if settings.tls:
            assert settings.tls_cert and settings.tls_key
            creds = grpc.ssl_server_credentials(
                [(Path(settings.tls_key).read_bytes(), Path(settings.tls_cert).read_bytes())]
            )
            port = server.add_secure_port(settings.grpc_addr, creds)
        else:
            port = server.add_insecure_port(settings.grpc_addr)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {settings.grpc_addr} (gRPC): {exc}") from None
    if not port:
        raise OSError(f"cannot listen on {settings.grpc_addr} (gRPC)")
    server.start()
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return server, shown
