"""Reading the spans stream without a durable position, for `tail`, `trace` and `demo`:
`StreamReader(conn, start_seq)` is an ephemeral, unacknowledged pull consumer from a stream
sequence on (the server forgets it a while after it is closed), `poll(timeout)` a batch of
`(seq, payload)`; `span_range` reads one bounded range, `stream_bounds` says what is there.

Nothing here changes the stream or any agent's position; every scan is bounded by the caller.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import SPANS_ROOT, SPANS_STREAM

_log = logging.getLogger(__name__)
BATCH = 4096
IDLE_FORGET_S = 30.0  # the server drops a reader's consumer this long after its last fetch


def stream_bounds(conn: NatsConnection, stream: str = SPANS_STREAM) -> tuple[int, int]:
    """(first, last) sequence of the stream; (1, 0) when it holds nothing (or is not there
    yet: nothing was ever published on this server)."""

    async def _bounds() -> tuple[int, int]:
        from nats.js.errors import NotFoundError

        try:
            state = (await conn.js.stream_info(stream)).state
        except NotFoundError:
            return 1, 0
        return (int(state.first_seq), int(state.last_seq)) if state.messages else (1, 0)

    return conn.run(_bounds())


class StreamReader:
    """Spans from sequence `start` on (filtered to `subject`), read in order, never acked."""

    def __init__(
        self,
        conn: NatsConnection,
        start: int,
        *,
        subject: str = SPANS_ROOT + ".>",
        stream: str = SPANS_STREAM,
    ) -> None:
        self._conn = conn
        self._stream = stream
        self._name = f"swarmsh-read-{secrets.token_hex(8)}"
        self.next_seq = max(1, start)
        self.caught_up = False  # the last batch said nothing more was pending
        self._sub: Any = conn.run(self._subscribe(subject))

    async def _subscribe(self, subject: str) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            name=self._name,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.next_seq,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=IDLE_FORGET_S,
            mem_storage=True,
        )
        from nats.js.errors import NotFoundError

        try:
            await self._conn.js.add_consumer(self._stream, config)
        except NotFoundError:  # a fresh server: the stream every producer creates
            from swarmsh.bus.jetstream.streams import stream_configs

            for stream_config in stream_configs(self._conn):
                if stream_config.name == self._stream:
                    await self._conn.js.add_stream(stream_config)
            await self._conn.js.add_consumer(self._stream, config)
        return await self._conn.js.pull_subscribe_bind(self._name, self._stream)

    def poll(self, timeout: float, batch: int = BATCH) -> list[tuple[int, bytes]]:
        """The next messages (at most `batch`), waiting up to `timeout` for the first one.

        A pull for many waits until it has them all or its time is up, so the first message
        is pulled alone (it returns as it arrives) and what is pending then in one batch."""

        async def _fetch() -> list[tuple[int, bytes]]:
            import nats.errors

            try:
                msgs = await self._sub.fetch(1, timeout=max(timeout, 0.01))
            except nats.errors.TimeoutError:
                self.caught_up = True
                return []
            if msgs[-1].metadata.num_pending and batch > 1:
                try:  # they are there: the first probe returns them at once
                    msgs += await self._sub.fetch(batch - 1, timeout=1.0)
                except nats.errors.TimeoutError:
                    pass  # taken meanwhile? then next time
            out = [(int(m.metadata.sequence.stream), m.data) for m in msgs]
            self.caught_up = msgs[-1].metadata.num_pending == 0
            return out

        got = self._conn.run(_fetch(), timeout=timeout + self._conn.settings.timeout_s + 2)
        if got:
            self.next_seq = got[-1][0] + 1
        return got

    def alive(self) -> bool:
        """Whether the server still has this reader's consumer (a restarted server has not:
        it was kept in memory); an idle pull cannot tell that from a quiet stream."""

        async def _info() -> bool:
            from nats.js.errors import NotFoundError

            try:
                await self._conn.js.consumer_info(self._stream, self._name)
            except NotFoundError:
                return False
            return True

        return self._conn.run(_info())

    def close(self) -> None:
        """Drop the subscription and its consumer (best effort: it expires on its own too)."""

        async def _close() -> None:
            await self._sub.unsubscribe()
            await self._conn.js.delete_consumer(self._stream, self._name)

        try:
            self._conn.run(_close(), timeout=self._conn.settings.timeout_s)
        except Exception as exc:  # an expiring consumer needs no delete
            _log.debug("closing %s: %s", self._name, exc)


def span_range(
    conn: NatsConnection, first: int, last: int, *, subject: str = SPANS_ROOT + ".>"
) -> Iterator[tuple[int, bytes]]:
    """Every span with a sequence in [first, last] (fewer if the stream dropped some)."""
    if last < first:
        return
    reader = StreamReader(conn, first, subject=subject)
    try:
        while True:
            batch = reader.poll(0.5)
            for seq, data in batch:
                if seq > last:
                    return
                yield seq, data
            if not batch or reader.caught_up or reader.next_seq > last:
                return
    finally:
        reader.close()
