"""An agent's reading and writing on JetStream, in the roles `AgentRunner` gives its follower
and its queue writer.

`SpanConsumer`: a durable pull consumer (named as the agent) on SWARMSH_SPANS filtered on the
agent's prefix, so the server skips other services' spans. `poll` hands out
`(SpanRecord, JsPosition)` pairs; nothing is acknowledged until `ack_through(seq)` (called by
the state store once the batch's state is committed), and messages at or below the committed
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
    """The journal's sequence, not the server's delivery state, is the agent's checkpoint:
    `open(applied)` (re)creates the durable consumer to start right after it, so messages
    come in stream order. (A consumer kept across a crash would hand out new messages at once
    and the dead instance's unacknowledged ones only after the ack wait: behind the
    checkpoint, they would be taken for applied ones.) A failed fetch reopens it the same way.
    """

    def __init__(
        self,
        conn: NatsConnection,
        durable: str,
        filter_subject: str,
        deadletter: DeadLetterWriter,
    ) -> None:
        self.conn = conn
        self.durable = durable
        self.filter_subject = filter_subject
        self.deadletter = deadletter
        self.applied = 0  # the state includes every message up to this sequence
        self.position = JsPosition(0)
        self._unacked: dict[int, Any] = {}  # seq -> message, until its batch is committed
        self._raw: dict[int, bytes] = {}  # this batch's payloads, for dead letters
        self._sub: Any = None
        self._start = "checkpoint"

    def open(self, applied: int, start: str = "checkpoint") -> None:
        """Deliver from `applied + 1` (`start`: --from end: only new spans; beginning: all)."""
        self.applied = 0 if start == "beginning" else applied
        self.position = JsPosition(self.applied)
        self._start = start
        self._unacked.clear()
        self._sub = self.conn.run(self._subscribe(), self.conn.settings.timeout_s * 4)

    async def _subscribe(self) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        js = self.conn.js
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception as exc:  # a broken subscription: the new one replaces it anyway
                _log.debug("unsubscribe: %s", exc)
        try:
            await js.delete_consumer(SPANS_STREAM, self.durable)
        except NotFoundError:
            pass
        policy: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
        if self._start == "end":
            policy = {"deliver_policy": DeliverPolicy.NEW}
            self._start = "checkpoint"  # a reopen resumes from the checkpoint
        elif self.applied:
            policy = {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": self.applied + 1,
            }
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.conn.settings.ack_wait_s,
            max_ack_pending=FETCH_BATCH * 16,
            **policy,
        )
        return await js.pull_subscribe(
            self.filter_subject, durable=self.durable, stream=SPANS_STREAM, config=config
        )

    def poll(self, timeout: float) -> list[tuple[SpanRecord, JsPosition]] | None:
        if self._sub is None:  # the last fetch failed: start again right after the checkpoint
            self.open(self.applied)
        try:
            msgs = self.conn.run(self._fetch(timeout), timeout + self.conn.settings.timeout_s)
        except BusWriteError:
            self._sub = None  # what it fetched may be lost in flight: reopen, then retry
            raise
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
