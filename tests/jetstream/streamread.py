"""Reading what is on a real server's streams, for the JetStream tests (js-ops)."""

from __future__ import annotations

from typing import Any

import orjson

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.scan import span_range, stream_bounds
from swarmsh.bus.jetstream.settings import nats_settings
from swarmsh.bus.jetstream.subjects import SPANS_STREAM


def connect(url: str, name: str = "test-reader") -> NatsConnection:
    settings = nats_settings(url)
    return NatsConnection.open(settings, name=name, reconnect=False)


def stream_spans(conn: NatsConnection) -> list[dict[str, Any]]:
    """Every span record on the spans stream, in stream order."""
    first, last = stream_bounds(conn)
    return [orjson.loads(data) for _, data in span_range(conn, first, last)]


def stream_messages(conn: NatsConnection, stream: str = SPANS_STREAM) -> int:
    return int(conn.run(conn.js.stream_info(stream)).state.messages)


def consumer_pending(conn: NatsConnection, stream: str, consumer: str) -> tuple[int, int]:
    """(num_pending, num_ack_pending) of a durable consumer."""
    info = conn.run(conn.js.consumer_info(stream, consumer))
    return int(info.num_pending), int(info.num_ack_pending)
