"""OTLP/HTTP: `POST /v1/traces` (protobuf or JSON, gzip or not) on the stdlib's threading server,
with a bounded number of connection threads (the rest wait in the listen backlog)."""

from __future__ import annotations

import logging
import math
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from swarmsh.receiver.decode import JSON, PROTOBUF, decode_body, media_type
from swarmsh.receiver.ingest import Ingest
from swarmsh.receiver.outcome import INVALID, TOO_LARGE, RequestError
from swarmsh.receiver.settings import ReceiverSettings, parse_address
from swarmsh.receiver.stats import ReceiverStats

_log = logging.getLogger(__name__)
PATH = "/v1/traces"
SOURCE = "otlp/http"
IDLE_TIMEOUT_S = 30.0  # a connection that sends nothing for this long is closed
CONNECTIONS_PER_SLOT = 8  # connection threads per request slot (idle keep-alives hold one)
_CHUNK = 1 << 16
# A refused body is read and dropped (not kept) up to this size before the answer, so that the
# sender, still sending, sees the answer and not a reset connection it would retry.
DRAIN_LIMIT = 64 << 20


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], connections: int, **context: Any) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(connections)
        self.context = context
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # at the bound the accept loop waits; the backlog holds the rest
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up, spoke plain HTTP to TLS or timed out: its connection ends,
        # nothing else does; no traceback on stderr for what any stranger can cause.
        _log.debug("connection from %s ended in error", client_address, exc_info=True)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "swarmsh-receiver"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in the connection's thread, not in accept

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        _log.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        ctx = self.server.context
        ingest: Ingest = ctx["ingest"]
        settings: ReceiverSettings = ctx["settings"]
        started = time.perf_counter()
        answer_type = JSON if media_type(self.headers.get("Content-Type")) == JSON else PROTOBUF
        spans = 0
        body_read = False
        try:
            if self.path.split("?", 1)[0] != PATH:
                self.close_connection = True
                self._plain(404, f"only POST {PATH} is served here")
                return
            length = self._content_length(settings.max_request_bytes)
            ingest.authorize(self.headers.get("Authorization"))
            with ingest.admit(length):
                body = self.rfile.read(length)
                body_read = True
                if len(body) != length:
                    self.close_connection = True
                    return  # the sender hung up mid-body: nobody to answer
                request, answer_type = decode_body(
                    body,
                    self.headers.get("Content-Type"),
                    self.headers.get("Content-Encoding"),
                    settings.max_request_bytes,
                )
                del body
                spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                result = ingest.export(request, SOURCE)
        except RequestError as exc:
            if not body_read:
                self._skip_body()
            answer = exc.answer
            ctx["stats"].request(
                "http",
                time.perf_counter() - started,
                refused=spans if answer.retryable else 0,
                bad=not answer.retryable,
            )
            headers = {}
            if answer.retryable:
                headers["Retry-After"] = str(math.ceil(settings.retry_after_s))
            status = Status(code=answer.grpc_code.value[0], message=exc.message)
            self._send(answer.http_status, answer_type, status, headers)
            return
        except Exception:  # never a traceback on the wire
            _log.exception("unexpected error in POST %s", PATH)
            self.close_connection = True
            self._plain(500, "internal error (see the receiver's log)")
            return
        ctx["stats"].request(
            "http", time.perf_counter() - started, accepted=result.accepted, failed=result.rejected
        )
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.message
        self._send(200, answer_type, response, {})

    def _content_length(self, limit: int) -> int:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise RequestError(INVALID, "chunked bodies are not accepted: send Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            self.close_connection = True
            raise RequestError(INVALID, "Content-Length is missing or not a number")
        length = int(raw)
        if length > limit:
            raise RequestError(TOO_LARGE, f"the body is {length} bytes, over the {limit} allowed")
        return length

    def _skip_body(self) -> None:
        """Read and drop a refused request's body (in bounded memory) before answering."""
        if self.close_connection:
            return
        raw = (self.headers.get("Content-Length") or "0").strip()
        left = int(raw) if raw.isdigit() else 0
        if left > DRAIN_LIMIT:
            self.close_connection = True
            return
        while left > 0:
            chunk = self.rfile.read(min(left, _CHUNK))
            if not chunk:
                self.close_connection = True
                return
            left -= len(chunk)

    def _send(self, code: int, kind: str, message: Any, headers: dict[str, str]) -> None:
        if kind == JSON:
            body = json_format.MessageToJson(message, indent=None).encode()
        else:
            body = message.SerializeToString()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _plain(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._plain(405, f"only POST {PATH} is served here")

    do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815


def start_http(
    settings: ReceiverSettings, ingest: Ingest, stats: ReceiverStats
) -> tuple[_Server, str]:
    """A serving HTTP server (in its own thread) and the address it listens on."""
    assert settings.http_addr is not None
    host, port = parse_address("address", settings.http_addr)
    connections = settings.max_concurrency * CONNECTIONS_PER_SLOT
    try:
        server = _Server((host, port), connections, ingest=ingest, settings=settings, stats=stats)
    except OSError as exc:
        raise OSError(f"cannot listen on {settings.http_addr} (HTTP): {exc.strerror}") from None
    if settings.tls:
        assert settings.tls_cert and settings.tls_key
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    thread = threading.Thread(target=server.serve_forever, name="otlp-http", daemon=True)
    thread.start()
    bound = server.server_address[1]
    shown = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
    return server, shown
