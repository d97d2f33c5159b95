"""Sending one serialized ExportTraceServiceRequest: OTLP/HTTP (protobuf) or OTLP/gRPC.

`send` never raises for the collector's sake: it returns an `Outcome` saying whether the
collector acknowledged the batch, may take it later (retry), or refused it for good.
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from swarmsh.shipper.settings import ShipperSettings

_log = logging.getLogger(__name__)
GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# The OTLP spec's retryable HTTP codes; other 4xx are the batch's fault, never the network's.
HTTP_RETRYABLE = frozenset((408, 429, 502, 503, 504))
HTTP_PERMANENT = frozenset((400, 413))


@dataclass(frozen=True)
class Outcome:
    """`ok`: acknowledged. Else `retry` says whether a later try may succeed; `why` says what."""

    ok: bool
    retry: bool = False
    why: str = ""


ACKNOWLEDGED = Outcome(True)


class Sender(Protocol):
    def send(self, body: bytes) -> Outcome: ...

    def close(self) -> None: ...


class HttpSender:
    """POST to the traces URL over one kept-alive connection, reopened after any failure."""

    def __init__(self, settings: ShipperSettings) -> None:
        assert settings.url is not None
        parts = urlsplit(settings.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._timeout = settings.timeout
        self._headers = {
            **dict(settings.headers),
            "Content-Type": "application/x-protobuf",
        }
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def send(self, body: bytes) -> Outcome:
        try:
            conn = self._connection()
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Outcome(False, retry=True, why=f"{type(exc).__name__}: {exc}")
        if 200 <= response.status < 300:
            return ACKNOWLEDGED
        why = f"HTTP {response.status} {response.reason}"
        if response.status in HTTP_PERMANENT:
            return Outcome(False, retry=False, why=why)
        self.close()  # a collector in trouble: a fresh connection next time
        return Outcome(False, retry=True, why=why)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class GrpcSender:
    """TraceService/Export with the request already serialized (no re-encoding in grpcio)."""

    def __init__(self, settings: ShipperSettings) -> None:
        import grpc

        self._grpc = grpc
        target = settings.grpc_target
        if settings.secure:
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(target)
        self._export: Any = self._channel.unary_unary(GRPC_METHOD)  # bytes in, bytes out
        self._metadata = settings.headers
        self._timeout = settings.timeout
        code = grpc.StatusCode
        self._permanent = frozenset((code.INVALID_ARGUMENT,))

    def send(self, body: bytes) -> Outcome:
        try:
            self._export(body, timeout=self._timeout, metadata=self._metadata)
        except self._grpc.RpcError as exc:
            status = exc.code() if hasattr(exc, "code") else None
            why = f"gRPC {getattr(status, 'name', status)}: {getattr(exc, 'details', str)()}"
            return Outcome(False, retry=status not in self._permanent, why=why)
        return ACKNOWLEDGED

    def close(self) -> None:
        self._channel.close()


def make_sender(settings: ShipperSettings) -> Sender:
    return GrpcSender(settings) if settings.protocol == "grpc" else HttpSender(settings)
