"""Hostile and broken requests against a real receiver: each gets its status, nothing of it is
on the bus, and the receiver goes on (same pid) to accept the next good request."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from tests.conftest import read_jsonl
from tests.receiver.harness import Receiver, running_receiver

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TOKEN = "s3cret-token"
MiB = 1 << 20


def request(*spans: dict, resource_attrs: int = 0) -> ExportTraceServiceRequest:
    out = ExportTraceServiceRequest()
    resource_spans = out.resource_spans.add()
    for i in range(resource_attrs):
        resource_spans.resource.attributes.add(key=f"r{i}").value.int_value = i
    scope = resource_spans.scope_spans.add()
    for fields in spans:
        span = scope.spans.add()
        span.trace_id = fields.get("trace_id", bytes(range(1, 17)))
        span.span_id = fields.get("span_id", bytes(range(1, 9)))
        span.name = fields.get("name", "ok")
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_000_100_000_000
        for i in range(fields.get("attributes", 0)):
            span.attributes.append(KeyValue(key=f"k{i}"))
            span.attributes[-1].value.int_value = i
    return out


GOOD = request({"span_id": b"\x00\x00\x00\x00\x00\x00\x00\x2a", "name": "good"})
NON_UTF8 = request({"name": "XX"}).SerializeToString().replace(b"XX", b"\xff\xfe")
BOMB = gzip.compress(b"\0" * (64 * MiB), compresslevel=9)
INVALID_IDS = request(
    {"trace_id": bytes(15)}, {"trace_id": bytes(16)}, {"span_id": bytes(8)}, {"span_id": b"\x01"}
)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    home = tmp_path_factory.mktemp("bad") / "home"
    with running_receiver(home, {"SWARMSH_RECEIVER_TOKEN": TOKEN}) as rx:
        yield rx


def post(rx: Receiver, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", rx.http_port, timeout=30)
    try:
        conn.request("POST", "/v1/traces", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
PB = {"Content-Type": "application/x-protobuf", **AUTH}

HTTP_CASES = {
    "truncated protobuf": (GOOD.SerializeToString()[:-3], PB, 400),
    "wrong content type": (GOOD.SerializeToString(), {**AUTH, "Content-Type": "text/plain"}, 415),
    "gzip bomb": (BOMB, {**PB, "Content-Encoding": "gzip"}, 413),
    "oversized": (b"\0" * (4 * MiB + 1), PB, 413),
    "non-UTF-8 string": (NON_UTF8, PB, 400),
    "JSON non-hex id": (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"01"}]}]}]}',
        {**AUTH, "Content-Type": "application/json"},
        400,
    ),
    "JSON not UTF-8": (b'{"a": "\xff"}', {**AUTH, "Content-Type": "application/json"}, 400),
    "missing token": (GOOD.SerializeToString(), {"Content-Type": "application/x-protobuf"}, 401),
    "wrong token": (GOOD.SerializeToString(), {**PB, "Authorization": "Bearer s3cret-tokeN"}, 401),
    "unknown encoding": (GOOD.SerializeToString(), {**PB, "Content-Encoding": "br"}, 415),
}


@pytest.mark.parametrize("case", list(HTTP_CASES))
def test_http_bad_input(receiver: Receiver, case: str) -> None:
    body, headers, status = HTTP_CASES[case]
    before = receiver.bus.read_bytes() if receiver.bus.exists() else b""
    pid = receiver.process.pid  # type: ignore[union-attr]
    got, _, answer = post(receiver, body, headers)
    assert got == status, answer
    assert (receiver.bus.read_bytes() if receiver.bus.exists() else b"") == before
    assert receiver.alive() and receiver.process.pid == pid  # type: ignore[union-attr]
    assert post(receiver, GOOD.SerializeToString(), PB)[0] == 200  # and it goes on


@pytest.mark.parametrize(
    "case, spans, reason",
    [
        ("invalid ids", INVALID_IDS, "not 16 bytes"),
        ("10,000 attributes", request({"attributes": 10_000}), "10000 attributes, more than 128"),
        ("unsafe name", request({"name": "evil\x1b[2J\u202e"}), "span name contains U+001B"),
        ("resource of 200 attributes", request({}, resource_attrs=200), "its resource: 200"),
    ],
)
def test_unrepresentable_spans_are_rejected_and_dead_lettered(
    receiver: Receiver, case: str, spans: ExportTraceServiceRequest, reason: str
) -> None:
    before = receiver.bus.read_bytes() if receiver.bus.exists() else b""
    letters = receiver.home / "deadletter" / "receiver.jsonl"
    had = len(read_jsonl(letters))
    status, _, answer = post(receiver, spans.SerializeToString(), PB)
    assert status == 200
    response = ExportTraceServiceResponse.FromString(answer)
    count = sum(len(ss.spans) for rs in spans.resource_spans for ss in rs.scope_spans)
    assert response.partial_success.rejected_spans == count
    assert reason in response.partial_success.error_message
    assert (receiver.bus.read_bytes() if receiver.bus.exists() else b"") == before
    new = read_jsonl(letters)[had:]
    assert len(new) == count and all(d["reader"] == "receiver" for d in new)
    assert reason in new[0]["reason"]


@pytest.fixture(scope="module")
def channel(receiver: Receiver) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as ch:
        yield ch


def _call(channel: grpc.Channel, body: bytes, token: str | None = TOKEN, **kwargs: object) -> bytes:
    export = channel.unary_unary(METHOD)  # raw bytes in and out: we send what we like
    metadata = [("authorization", f"Bearer {token}")] if token else []
    return export(body, metadata=metadata, timeout=30, **kwargs)


@pytest.mark.parametrize(
    "case, body, kwargs, code",
    [
        ("truncated protobuf", GOOD.SerializeToString()[:-3], {}, grpc.StatusCode.INVALID_ARGUMENT),
        ("non-UTF-8 string", NON_UTF8, {}, grpc.StatusCode.INVALID_ARGUMENT),
        ("oversized", b"\0" * (4 * MiB + 1), {}, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (
            "gzip bomb",
            b"\x0a" + b"\0" * (8 * MiB),
            {"compression": grpc.Compression.Gzip},
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        ),
        (
            "missing token",
            GOOD.SerializeToString(),
            {"token": None},
            grpc.StatusCode.UNAUTHENTICATED,
        ),
        (
            "wrong token",
            GOOD.SerializeToString(),
            {"token": "nope"},
            grpc.StatusCode.UNAUTHENTICATED,
        ),
    ],
)
def test_grpc_bad_input(
    receiver: Receiver,
    channel: grpc.Channel,
    case: str,
    body: bytes,
    kwargs: dict,
    code: grpc.StatusCode,
) -> None:
    before = receiver.bus.read_bytes() if receiver.bus.exists() else b""
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, body, **kwargs)
    assert caught.value.code() == code, caught.value.details()
    assert (receiver.bus.read_bytes() if receiver.bus.exists() else b"") == before
    assert receiver.alive()
    assert ExportTraceServiceResponse.FromString(_call(channel, GOOD.SerializeToString())) == (
        ExportTraceServiceResponse()
    )


def test_grpc_partial_success(receiver: Receiver, channel: grpc.Channel, tmp_path: Path) -> None:
    answer = ExportTraceServiceResponse.FromString(_call(channel, INVALID_IDS.SerializeToString()))
    assert answer.partial_success.rejected_spans == 4
    assert "rejected" in answer.partial_success.error_message
