"""The shipper on a NATS bus: a durable pull consumer of its own (`shipper`) on every span
subject; a batch is exported exactly as on the file bus and acknowledged (each message, the
last one waiting for the server) only once the collector acknowledged it. Stopped or killed
before that, the server redelivers the batch: at least once, as the file bus's shipper,
since OTLP has no de-duplication.

A batch held longer than the consumer's ack wait (the collector down for a while) is
redelivered to us while we still retry it; the sequences we acknowledged lately are skipped.
A killed shipper's batch is redelivered once the ack wait (ACK_WAIT_S) has passed.
The local state store keeps the counters and the last acknowledged sequence, as
`swarmsh status` and `swarmsh up` read them on the file bus.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.jetstream.connection import NatsConnection, NatsUnavailable
from swarmsh.bus.jetstream.streams import ensure_streams
from swarmsh.bus.jetstream.subjects import SPANS_STREAM, consumer_name, spans_filter
from swarmsh.config import Paths
from swarmsh.errors import MalformedRecord
from swarmsh.failpoints import failpoint
from swarmsh.patience import NEVER, RETRY_MAX_S, compute_backoff, until_done
from swarmsh.shipper.encode import Encoded, encode_batch, encode_line
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import MAX_REQUEST_BYTES, POLL_S, READER, Shipper
from swarmsh.shipper.transport import Sender, make_sender
from swarmsh.store import StateStore

CONSUMER = consumer_name(READER)
ACK_WAIT_S = 10.0  # a killed shipper's batch is redelivered this long after it was fetched
RECENT_ACKED = 1 << 16
SOURCE = Path(f"nats:{SPANS_STREAM}")  # where a dead letter's line came from
_log = logging.getLogger(__name__)


async def subscribe(conn: NatsConnection, start: str, batch: int) -> Any:
    """Bind to the durable consumer, creating it when missing (first start: the stream's
    new spans; `--from beginning|end` re-creates it from there)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    js = conn.js
    exists = True
    try:
        await js.consumer_info(SPANS_STREAM, CONSUMER)
    except NotFoundError:
        exists = False
    if exists and start != "checkpoint":
        await js.delete_consumer(SPANS_STREAM, CONSUMER)
        exists = False
    if not exists:
        config = ConsumerConfig(
            durable_name=CONSUMER,
            filter_subject=spans_filter(),
            deliver_policy=DeliverPolicy.ALL if start == "beginning" else DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_ack_pending=batch * 4,
        )
        await js.add_consumer(SPANS_STREAM, config)
    return await js.pull_subscribe_bind(CONSUMER, SPANS_STREAM)


class RecentSet:
    """The last `size` sequences added (a set with a bounded memory)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._set: set[int] = set()
        self._order: deque[int] = deque()

    def __contains__(self, seq: object) -> bool:
        return seq in self._set

    def update(self, seqs: Iterable[int]) -> None:
        for seq in seqs:
            if seq not in self._set:
                self._set.add(seq)
                self._order.append(seq)
        while len(self._order) > self._size:
            self._set.discard(self._order.popleft())


async def ack_all(msgs: list[Any]) -> None:
    """Acknowledge every message (each one: acknowledging the last alone would also
    acknowledge a killed predecessor's batch that waits for redelivery); the last one waits
    for the server, which handles one connection's acks in order."""
    for msg in msgs[:-1]:
        await msg.ack()
    await msgs[-1].ack_sync()


class JetStreamShipper(Shipper):
    """Poll a batch from the consumer, export its sampled spans until acknowledged, ack."""

    def __init__(
        self,
        paths: Paths,
        settings: ShipperSettings,
        start: str = "checkpoint",
        *,
        conn: NatsConnection,
        sender: Sender | None = None,
    ) -> None:
        # Shipper's own __init__ opens a file follower: only its export loop is shared.
        self.paths, self.settings, self.conn = paths, settings, conn
        subs: list[Any] = []

        def subscribed() -> bool:  # the server may be starting, a cluster electing
            ensure_streams(conn)
            subs[:] = [
                conn.run(subscribe(conn, start, settings.batch), conn.settings.timeout_s * 4)
            ]
            return True

        until_done(subscribed, NEVER, what="open the spans stream and the shipper's consumer")
        self.sub = subs[0]
        self.store = StateStore(paths.state / f"{READER}.db")
        self.deadletter = DeadLetterWriter(paths.deadletter_file(READER))
        if sender is None and settings.url is not None:
            sender = make_sender(settings)
        self.sender = sender
        self.exported = 0
        self._failures = 0
        # What this process acknowledged lately: a batch held past the ack wait comes back
        # after we acknowledged it (a killed predecessor's batch, lower sequences, does not).
        self._acked: RecentSet = RecentSet(RECENT_ACKED)
        self._last_acked = 0
        self._nats_failures = 0

    def poll(self, timeout: float) -> list[Any]:
        async def _fetch() -> list[Any]:
            import nats.errors

            try:
                return list(await self.sub.fetch(self.settings.batch, timeout=timeout))
            except nats.errors.TimeoutError:
                return []

        return self.conn.run(_fetch(), timeout=timeout + self.conn.settings.timeout_s + 1)

    def step(self, stop: threading.Event) -> None:
        msgs = self.poll(POLL_S)
        if not msgs:
            return
        counters = {"unsampled": 0, "exported": 0, "refused": 0, "dead_letters": 0}
        chunk: list[tuple[Encoded, int, bytes]] = []
        size = 0
        for msg in msgs:
            seq = int(msg.metadata.sequence.stream)
            if seq in self._acked:
                continue  # redelivered while we were still retrying it: exported already
            try:
                item = encode_line(msg.data)
            except MalformedRecord as exc:
                self.deadletter.write_line(READER, SOURCE, seq, str(exc), msg.data)
                counters["dead_letters"] += 1
                continue
            if item is None:
                counters["unsampled"] += 1
                continue
            if chunk and size + len(item.span) > MAX_REQUEST_BYTES:
                if not self._send(chunk, counters, stop):
                    return
                chunk, size = [], 0
            chunk.append((item, seq, msg.data))
            size += len(item.span)
        if chunk and not self._send(chunk, counters, stop):
            return
        failpoint("shipper-after-export")  # acknowledged by the collector, not yet by us
        self.conn.run(ack_all(msgs), timeout=self.conn.settings.timeout_s + 1)
        self._acked.update(int(m.metadata.sequence.stream) for m in msgs)
        self._last_acked = int(msgs[-1].metadata.sequence.stream)
        self._nats_failures = 0
        self.commit(stop, counters)

    def _send(
        self,
        chunk: list[tuple[Encoded, int, bytes]],
        counters: dict[str, int],
        stop: threading.Event,
    ) -> bool:
        done = self.export(encode_batch([item for item, _, _ in chunk]), len(chunk), stop)
        if done is None:
            return False
        if done:
            counters["exported"] += len(chunk)
            self.exported += len(chunk)
        else:
            counters["refused"] += len(chunk)
            for _, seq, data in chunk:
                self.deadletter.write_line(READER, SOURCE, seq, "refused by the collector", data)
        return True

    def commit(self, stop: threading.Event, counters: dict[str, int]) -> bool:
        position = {"stream": SPANS_STREAM, "consumer": CONSUMER, "acked_seq": self._last_acked}

        def step() -> bool:
            self.store.commit(READER, position, counters=counters)
            return True

        return until_done(step, stop, what="record the shipper's counters")

    def run(self, stop: threading.Event) -> None:
        self.commit(stop, {})  # started (what `swarmsh up` waits for)
        if self.sender is None:
            _log.info("no OTLP endpoint configured (%s): idle", "OTEL_EXPORTER_OTLP_ENDPOINT")
            stop.wait()
            return
        _log.info("shipping %s to %s (%s)", SPANS_STREAM, self.settings.url, self.settings.protocol)
        while not stop.is_set():
            try:
                self.step(stop)
            except NatsUnavailable as exc:  # the batch in hand is redelivered: at least once
                self._outage(exc, stop)
        _log.info("%s stopped (%d spans exported)", READER, self.exported)

    def _outage(self, exc: NatsUnavailable, stop: threading.Event) -> None:
        self._nats_failures += 1
        if self._nats_failures == 1 or self._nats_failures % 20 == 0:  # no flood
            _log.warning("JetStream unavailable (%s; failure %d)", exc, self._nats_failures)
        stop.wait(compute_backoff(self._nats_failures, base=0.2, cap=RETRY_MAX_S))

    def wakeup(self) -> None:
        pass  # a fetch waits at most POLL_S

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        self.store.close()
