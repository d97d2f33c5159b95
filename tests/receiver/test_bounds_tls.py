"""At its bounds the receiver refuses at once with a retryable answer; with a certificate it
serves TLS on both transports (and the token still applies)."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.receiver.harness import running_receiver
from tests.receiver.test_bad_input import GOOD, METHOD

PB = {"Content-Type": "application/x-protobuf"}


def test_a_held_slot_makes_the_next_request_retryable(tmp_path: Path) -> None:
    env = {"SWARMSH_RECEIVER_MAX_CONCURRENCY": "1", "SWARMSH_RECEIVER_RETRY_AFTER_S": "2"}
    with running_receiver(tmp_path / "home", env) as rx:
        body = GOOD.SerializeToString()
        slow = socket.create_connection(("127.0.0.1", rx.http_port))
        try:  # headers and half the body: the request holds the only slot while it reads
            slow.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[: len(body) // 2]
            )
            conn = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=10)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # until the slow request has been admitted
                conn.request("POST", "/v1/traces", body, PB)
                response = conn.getresponse()
                response.read()
                if response.status == 429:
                    break
            assert response.status == 429 and response.getheader("Retry-After") == "2"
            with grpc.insecure_channel(f"127.0.0.1:{rx.grpc_port}") as channel:
                with pytest.raises(grpc.RpcError) as caught:
                    channel.unary_unary(METHOD)(body, timeout=10)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            info = RetryInfo.FromString(
                dict(caught.value.trailing_metadata())["google.rpc.retryinfo-bin"]
            )
            assert info.retry_delay.seconds == 2
            slow.sendall(body[len(body) // 2 :])  # the slow one completes and is accepted
            reply = slow.recv(4096)
            assert reply.startswith(b"HTTP/1.1 200")
        finally:
            slow.close()
        conn.request("POST", "/v1/traces", body, PB)
        assert conn.getresponse().status == 200  # the slot is free again
        assert [s["name"] for s in rx.spans()] == ["good"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {made.stderr.decode()}")
    return cert, key


def test_tls_and_token_on_both_transports(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    env = {
        "SWARMSH_RECEIVER_TLS_CERT": str(cert),
        "SWARMSH_RECEIVER_TLS_KEY": str(key),
        "SWARMSH_RECEIVER_TOKEN": "t0ken",
    }
    with running_receiver(tmp_path / "home", env) as rx:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", rx.http_port, context=context, timeout=10)
        conn.request(
            "POST", "/v1/traces", GOOD.SerializeToString(), {**PB, "Authorization": "Bearer t0ken"}
        )
        assert conn.getresponse().status == 200
        plain = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=10)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain.request("POST", "/v1/traces", GOOD.SerializeToString(), PB)
            plain.getresponse()
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{rx.grpc_port}", credentials) as channel:
            export = channel.unary_unary(METHOD)
            answer = export(
                GOOD.SerializeToString(), metadata=[("authorization", "Bearer t0ken")], timeout=10
            )
            assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
            with pytest.raises(grpc.RpcError) as caught:
                export(GOOD.SerializeToString(), timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert [s["name"] for s in rx.spans()] == ["good"]  # the second is the same span: once
        assert rx.alive()
