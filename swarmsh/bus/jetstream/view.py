"""Looking at the spans stream the way `tail`, `trace` and `demo` look at the JSONL bus:
the newest matching spans, one trace's spans, the newest span's trace, and waiting for a span.

JetStream reads forward only, so "the newest" is found by reading back in windows that double
(1 Ki, 2 Ki, … spans before the end) until enough matched or `limit` spans were read; a trace
is looked for in the last `limit` spans. Every read is bounded by such a limit (`--scan`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.scan import StreamReader, span_range, stream_bounds
from swarmsh.bus.records import SpanRecord
from swarmsh.errors import MalformedRecord

FIRST_WINDOW = 1024
DEFAULT_SCAN = 1_000_000  # spans read back at most, by default


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
    """The spans published after sequence `after`, as they come."""

    def __init__(self, conn: NatsConnection, after: int) -> None:
        self._reader = StreamReader(conn, after + 1)

    def poll(self, timeout: float) -> list[SpanRecord]:
        return list(_records(iter(self._reader.poll(timeout))))

    def close(self) -> None:
        self._reader.close()


class NatsSpanWatcher:
    """`SpanWatcher` on the spans stream: from where it ends when created, `wait()` returns
    the first span matching a predicate."""

    def __init__(self, conn: NatsConnection) -> None:
        _, last = stream_bounds(conn)
        self._follow = Follow(conn, last)
        self.seen: list[SpanRecord] = []

    def wait(self, predicate: Callable[[SpanRecord], bool], timeout: float) -> SpanRecord | None:
        for record in self.seen:
            if predicate(record):
                return record
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for record in self._follow.poll(min(left, 0.5)):
                self.seen.append(record)
                if predicate(record):
                    return record
        return None

    def close(self) -> None:
        self._follow.close()

    def __enter__(self) -> NatsSpanWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
