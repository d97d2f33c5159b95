"""An agent's reading and writing on JetStream, in the roles `AgentRunner` gives its follower
and its queue writer.

`SpanConsumer`: a durable pull consumer (named as the agent) on SWARMSH_SPANS filtered on the
agent's prefix, so the server skips other services' spans. `poll` hands out
`(SpanRecord, JsPosition)` pairs; nothing is acknowledged until `ack_through(seq)` (called by
the state store once the batch's state is committed), and messages at or below the recovered
sequence are acknowledged without being handed out again.
`CommandPublisher`: `append(lines)` publishes NextCommand lines on `swarmsh.commands` with
`Nats-Msg-Id` = command id, and returns once every one is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.sink import split_lines
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, COMMANDS_SUBJECT, SPANS_STREAM
from swarmsh.bus.records import SpanRecord
from swarmsh.errors import BusWriteError, MalformedRecord

_log = logging.getLogger(__name__)
FETCH_BATCH = 64


@dataclass(frozen=True, order=True)
class JsPosition:
    """A position on a stream: the last stream sequence handed out (0: none)."""

    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq}


class SpanConsumer:
    def __init__(
        self,
        conn: NatsConnection,
        durable: str,
        filter_subject: str,
        deadletter: DeadLetterWriter,
        *,
        start: str = "checkpoint",
    ) -> None:
        self.conn = conn
        self.durable = durable
        self.deadletter = deadletter
        self.applied = 0  # the state includes every message up to this sequence
        self.position = JsPosition(0)
        self._unacked: dict[int, Any] = {}  # seq -> message, until its batch is committed
        self._raw: dict[int, bytes] = {}  # this batch's payloads, for dead letters
        self._sub = conn.run(self._subscribe(filter_subject, start), conn.settings.timeout_s * 4)

    async def _subscribe(self, filter_subject: str, start: str) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        js = self.conn.js
        if start != "checkpoint":  # --from beginning/end: a new consumer starts there
            try:
                await js.delete_consumer(SPANS_STREAM, self.durable)
            except NotFoundError:
                pass
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.conn.settings.ack_wait_s,
            max_ack_pending=FETCH_BATCH * 16,
            deliver_policy=DeliverPolicy.NEW if start == "end" else DeliverPolicy.ALL,
        )
        return await js.pull_subscribe(
            filter_subject, durable=self.durable, stream=SPANS_STREAM, config=config
        )

    def poll(self, timeout: float) -> list[tuple[SpanRecord, JsPosition]] | None:
        msgs = self.conn.run(self._fetch(timeout), timeout + self.conn.settings.timeout_s)
        if not msgs:
            return None
        items: list[tuple[SpanRecord, JsPosition]] = []
        self._raw.clear()
        applied = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            self._unacked[seq] = msg
            self.position = max(self.position, JsPosition(seq))
            if seq <= self.applied:  # redelivered, already in the state: not handled again
                applied.append(seq)
                continue
            self._raw[seq] = msg.data
            try:
                items.append((SpanRecord.from_json(msg.data), JsPosition(seq)))
            except MalformedRecord as exc:
                self._write_dead_letter(seq, str(exc), msg.data)
        if applied:
            self.ack_through(max(applied))
        return items

    async def _fetch(self, timeout: float) -> list[Any]:
        import nats.errors

        try:
            return list(await self._sub.fetch(FETCH_BATCH, timeout=timeout))
        except nats.errors.TimeoutError:  # nothing new within the timeout
            return []

    def ack_through(self, seq: int) -> None:
        """The state includes every message up to `seq`: acknowledge them (a lost ack only
        means a redelivery, which `applied` then skips)."""
        self.applied = max(self.applied, seq)
        done = [s for s in self._unacked if s <= seq]
        msgs = [self._unacked.pop(s) for s in done]

        async def _ack() -> None:
            for msg in msgs:
                await msg.ack()
            await self.conn.nc.flush()

        if msgs:
            self.conn.run(_ack())

    def _write_dead_letter(self, seq: int, reason: str, data: bytes) -> None:
        where = Path(f"nats:{SPANS_STREAM}/{self.durable}")
        self.deadletter.write_line(self.durable, where, seq, reason, data)

    def dead_letter(self, item: object, position: JsPosition, reason: str) -> None:
        data = self._raw.get(position.seq)
        if data is None:
            to_dict = getattr(item, "to_dict", None)
            data = orjson.dumps(to_dict()) if to_dict else str(item).encode()
        self._write_dead_letter(position.seq, reason, data)

    def wakeup(self) -> None:
        """A waiting fetch ends within its poll timeout (one second) anyway."""

    def close(self) -> None:
        try:
            self.conn.run(self._sub.unsubscribe(), 2.0)
        except Exception as exc:  # closing: the server forgets the subscription anyway
            _log.debug("unsubscribe: %s", exc)


class CommandPublisher:
    def __init__(self, conn: NatsConnection) -> None:
        self.conn = conn

    def append(self, lines: Sequence[bytes | bytearray]) -> None:
        from swarmsh.bus.jetstream.connection import NatsUnavailable

        messages = [
            (COMMANDS_SUBJECT, line, str(orjson.loads(line)["id"])) for line in split_lines(lines)
        ]
        try:
            self.conn.publish_all(messages, stream=COMMANDS_STREAM)
        except NatsUnavailable as exc:
            raise BusWriteError(f"commands not acknowledged: {exc}") from None
