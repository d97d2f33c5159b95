"""Settings are validated; the synchronous facade publishes with acks, de-duplicates by
message id, and reports an unreachable or stopped server as a bus write failure."""

from __future__ import annotations

import time

import pytest

from swarmsh.bus.jetstream.connection import NatsConnection, NatsUnavailable
from swarmsh.bus.jetstream.settings import BusSettings, NatsSettings, parse_servers
from swarmsh.bus.jetstream.streams import ensure_bucket, ensure_streams
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, SPANS_STREAM, span_subject
from swarmsh.errors import EXIT_BUS_UNWRITABLE, ConfigError
from tests.jetstream.servers import NatsServer, free_port


def test_file_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not BusSettings.from_env().is_nats
    monkeypatch.setenv("SWARMSH_BUS", "file")
    assert not BusSettings.from_env().is_nats


def test_urls_are_parsed() -> None:
    assert parse_servers("nats://a:1, tls://[::1]:4222,nats://b") == (
        "nats://a:1",
        "tls://[::1]:4222",
        "nats://b:4222",
    )


@pytest.mark.parametrize(
    "value",
    [
        "nats://u:p@host:4222",  # secrets in the URL
        "http://host:4222",
        "nats://host:99999",
        "nats://host:4222,",
        "nats://ho st",
        "nats://h\x1b[31m",
        ",".join(["nats://h"] * 17),
        "nats://" + "h" * 5000,
    ],
)
def test_hostile_bus_values_are_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMSH_BUS", value)
    with pytest.raises(ConfigError) as err:
        BusSettings.from_env()
    assert "\x1b" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SWARMSH_NATS_REPLICAS", "7"),
        ("SWARMSH_NATS_REPLICAS", "0"),
        ("SWARMSH_NATS_TIMEOUT_S", "nan"),
        ("SWARMSH_NATS_CREDS", "/nonexistent/x.creds"),
        ("SWARMSH_NATS_TLS_CERT", "/etc/hostname"),  # without its key
        ("SWARMSH_NATS_MAX_BYTES", "0"),
        ("SWARMSH_NATS_DUPLICATE_WINDOW_S", "999999999"),  # longer than the spans' max age
        ("SWARMSH_NATS_DUPLICATE_WINDOW_S", "10"),  # shorter than 4 ack waits (30 s)
    ],
)
def test_bad_nats_settings_are_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWARMSH_BUS", "nats://127.0.0.1:4222")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        BusSettings.from_env()


def test_publish_is_acknowledged_and_deduplicated(nats_conn: NatsConnection) -> None:
    ensure_streams(nats_conn)
    ensure_streams(nats_conn)  # idempotent
    subject = span_subject("swarmsh.test.x")
    first = nats_conn.publish(subject, b'{"a":1}', msg_id="m-1")
    again = nats_conn.publish(subject, b'{"a":1}', msg_id="m-1")
    other = nats_conn.publish(subject, b'{"a":2}', msg_id="m-2")
    assert first.stream == SPANS_STREAM and not first.duplicate
    assert again.duplicate and again.seq == first.seq
    assert other.seq == first.seq + 1
    acks = nats_conn.publish_all([(subject, b"{}", f"b-{i}") for i in range(50)])
    assert len({ack.seq for ack in acks}) == 50
    info = nats_conn.run(nats_conn.js.stream_info(SPANS_STREAM))
    assert info.state.messages == 52
    commands = nats_conn.run(nats_conn.js.stream_info(COMMANDS_STREAM))
    assert (
        str(getattr(commands.config.retention, "value", commands.config.retention)) == "workqueue"
    )


def test_bucket_create_is_atomic(nats_conn: NatsConnection) -> None:
    from nats.js.errors import KeyWrongLastSequenceError

    kv = ensure_bucket(nats_conn, "swarmsh-test")
    nats_conn.run(kv.create("k", b"1"))
    with pytest.raises(KeyWrongLastSequenceError):
        nats_conn.run(kv.create("k", b"2"))
    assert nats_conn.run(kv.get("k")).value == b"1"


def test_unreachable_server_is_a_bus_write_failure() -> None:
    settings = NatsSettings(servers=(f"nats://127.0.0.1:{free_port()}",), timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(NatsUnavailable) as err:
        NatsConnection.open(settings, reconnect=False)
    assert err.value.exit_code == EXIT_BUS_UNWRITABLE
    assert time.monotonic() - started < 5


def test_unacknowledged_publish_fails(nats_server: NatsServer, nats_conn: NatsConnection) -> None:
    """Not acknowledged: an error. The client may still send it after reconnecting (it was
    buffered), which is why a retry carries the same message id: stored once either way."""
    ensure_streams(nats_conn)
    nats_conn.publish(span_subject("a"), b"{}", msg_id="first")
    nats_server.kill()
    with pytest.raises(NatsUnavailable):
        nats_conn.publish(span_subject("a"), b"{}", msg_id="second")
    nats_server.start()  # same store, same port: the client reconnects
    deadline = time.monotonic() + 10
    while True:
        try:
            ack = nats_conn.publish(span_subject("a"), b"{}", msg_id="second")
            break
        except NatsUnavailable:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert ack.seq == 2
    info = nats_conn.run(nats_conn.js.stream_info(SPANS_STREAM))
    assert info.state.messages == 2
