"""The receiver's writer on a NATS bus: the `GroupCommitter` hands it each group of lines, as
it would hand the JSONL writer, and it publishes them to the spans stream and returns only once
JetStream acknowledged every one, so an OTLP request is answered only when its spans are stored
(on a majority of the replicas). Each span carries `Nats-Msg-Id` = its trace and span id (the
sink's `message_id`), so a sender's retry of a request whose answer it never got, or of one
answered 503 after part of it was stored, is dropped by the server within its duplicate window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.sink import span_messages
from swarmsh.bus.jetstream.streams import ensure_streams
from swarmsh.bus.jetstream.subjects import SPANS_STREAM
from swarmsh.errors import BusWriteError

_log = logging.getLogger(__name__)


class JetStreamWriter:
    """`append(lines)`: publish, wait for every acknowledgement, or raise `BusWriteError`."""

    def __init__(self, conn: NatsConnection) -> None:
        from swarmsh.patience import NEVER, until_done

        self._conn = conn

        def make_streams() -> bool:  # the receiver may be the first process on a fresh server
            ensure_streams(conn)
            return True

        until_done(make_streams, NEVER, what="create the streams")  # a cluster may be electing
        self.published = 0
        self.duplicates = 0  # acknowledged as already stored (a retried request)

    def append(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        try:
            messages = span_messages(lines)
        except ValueError as exc:  # our own converter wrote them: a bug, not the sender's fault
            raise BusWriteError(f"cannot publish a converted span: {exc}") from None
        acks = self._conn.publish_all(messages, stream=SPANS_STREAM)  # NatsUnavailable: 503
        dups = sum(1 for ack in acks if ack.duplicate)
        self.published += len(acks) - dups
        self.duplicates += dups


def jetstream_writer() -> JetStreamWriter:
    """The writer over this process's connection (a daemon's: it reconnects for ever)."""
    from swarmsh.bus import backend

    backend.as_daemon()
    return JetStreamWriter(backend.connection("swarmsh-receiver"))
