"""`SpanWatcher`: wait for a span matching a predicate to appear on the bus (inotify-woken)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from swarmsh.bus.follower import Follower
from swarmsh.bus.records import SpanRecord


class SpanWatcher:
    """Follows the bus from where it stands when created; `wait()` returns the first match."""

    def __init__(self, bus: Path, *, start: str = "end") -> None:
        self._follower: Follower[SpanRecord] = Follower(
            bus, reader="watch", parse=SpanRecord.from_json, deadletter=None, start=start
        )
        self.seen: list[SpanRecord] = []

    def wait(self, predicate: Callable[[SpanRecord], bool], timeout: float) -> SpanRecord | None:
        for record in self.seen:
            if predicate(record):
                return record
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for record, _position in self._follower.poll(min(left, 0.5)) or ():
                self.seen.append(record)
                if predicate(record):
                    return record
        return None

    def close(self) -> None:
        self._follower.close()

    def __enter__(self) -> SpanWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
