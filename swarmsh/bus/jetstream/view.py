"""Looking at the spans stream the way `tail`, `trace` and `demo` look at the JSONL bus:
the newest matching spans, one trace's spans, the newest span's trace, and waiting for a span.

JetStream reads forward only, so "the newest" is found by reading back in windows that double
(1 Ki, 2 Ki, … spans before the end) until enough matched or `limit` spans were read; a trace
is looked for in the last `limit` spans. Every read is bounded by such a limit (`--scan`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.scan import StreamReader, span_range, stream_bounds
from swarmsh.bus.records import SpanRecord
from swarmsh.bus.watch import Watcher
from swarmsh.errors import MalformedRecord

FIRST_WINDOW = 1024
DEFAULT_SCAN = 1_000_000  # spans read back at most, by default
CHECK_IDLE_S = 2.0  # a quiet follower asks this often whether its reader still exists


def _records(items: Iterator[tuple[int, bytes]], needle: bytes = b"") -> Iterator[SpanRecord]:
    for _seq, data in items:
        if needle and needle not in data:
            continue  # cheap: only candidates are parsed
        try:
            yield SpanRecord.from_json(data)
        except MalformedRecord:
            continue  # the readers dead-letter it; a viewer just shows the good ones


def _windows(first: int, last: int, limit: int) -> Iterator[tuple[int, int]]:
    """[start, stop] ranges reading back from `last`, newest first, doubling, `limit` in all."""
    stop, size, left = last, FIRST_WINDOW, limit
    while stop >= first and left > 0:
        start = max(first, stop - min(size, left) + 1)
        yield start, stop
        left -= stop - start + 1
        stop, size = start - 1, size * 2


def newest(
    conn: NatsConnection, keep: Callable[[SpanRecord], bool], count: int, limit: int
) -> tuple[list[SpanRecord], int]:
    """The `count` newest spans `keep` accepts (oldest first), and the stream's last sequence
    when looked (follow from the one after it: nothing falls in between)."""
    first, last = stream_bounds(conn)
    found: deque[SpanRecord] = deque()
    if count:
        for start, stop in _windows(first, last, limit):
            window = [r for r in _records(span_range(conn, start, stop)) if keep(r)]
            found.extendleft(reversed(window[-(count - len(found)) :]))
            if len(found) >= count:
                break
    return list(found), last


def trace_spans(conn: NatsConnection, trace_id: str, limit: int) -> list[SpanRecord]:
    """Every span of `trace_id` among the last `limit` spans."""
    first, last = stream_bounds(conn)
    start = max(first, last - limit + 1)
    needle = trace_id.encode()
    return [r for r in _records(span_range(conn, start, last), needle) if r.trace_id == trace_id]


def last_trace_id(conn: NatsConnection, name_prefix: str | None, limit: int) -> str | None:
    """The trace of the newest span (whose name starts with `name_prefix`, if given)."""
    spans, _ = newest(conn, lambda r: not name_prefix or r.name.startswith(name_prefix), 1, limit)
    return spans[0].trace_id if spans else None


class Follow:
    """The spans published after sequence `after`, as they come. With `resume`, a server
    restarted (its reader, kept in memory, is gone) or unreachable for a while is waited for,
    and reading goes on after the last span handed out: nothing skipped, nothing twice."""

    def __init__(self, conn: NatsConnection, after: int, *, resume: bool = False) -> None:
        self._conn, self._resume = conn, resume
        self._reader: StreamReader | None = StreamReader(conn, after + 1)
        self._next = after + 1
        self._checked = time.monotonic()

    def poll(self, timeout: float) -> list[SpanRecord]:
        from nats.js.errors import APIError

        from swarmsh.bus.jetstream.connection import NatsUnavailable

        try:
            if self._reader is None:
                self._reader = StreamReader(self._conn, self._next)
            got = self._reader.poll(timeout)
            if not got and self._resume and self._idle_check() and not self._reader.alive():
                raise NatsUnavailable("the server forgot this reader (restarted?)")
        except (NatsUnavailable, APIError):  # away, or it lost our reader (404, 409)
            if not self._resume:
                raise
            self._drop()
            time.sleep(min(timeout, 1.0))  # the server is away: try again at the next poll
            return []
        if got:
            self._next = got[-1][0] + 1
            self._checked = time.monotonic()
        return list(_records(iter(got)))

    def _idle_check(self) -> bool:
        """Time to ask whether the reader still exists (every CHECK_IDLE_S of quiet)?"""
        if time.monotonic() - self._checked < CHECK_IDLE_S:
            return False
        self._checked = time.monotonic()
        return True

    def _drop(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()

    def close(self) -> None:
        self._drop()


class NatsSpanWatcher(Watcher):
    """`Watcher` on the spans stream, from where it ends when created."""

    def __init__(self, conn: NatsConnection) -> None:
        super().__init__()
        _, last = stream_bounds(conn)
        self._follow = Follow(conn, last)

    def _poll(self, timeout: float) -> Iterable[SpanRecord]:
        return self._follow.poll(timeout)

    def close(self) -> None:
        self._follow.close()
