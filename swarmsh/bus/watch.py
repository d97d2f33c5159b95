"""`Watcher`: wait for a span matching a predicate to appear on the bus; `SpanWatcher` for
the bus file (inotify-woken), `jetstream.view.NatsSpanWatcher` for the spans stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

from swarmsh.bus.follower import Follower
from swarmsh.bus.records import SpanRecord


class Watcher:
    """Waits for the first span matching a predicate; a subclass says where spans come from
    (`_poll`) and what to release (`close`). Spans seen by an earlier `wait()` count too."""

    def __init__(self) -> None:
        self.seen: list[SpanRecord] = []

    def _poll(self, timeout: float) -> Iterable[SpanRecord]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def wait(self, predicate: Callable[[SpanRecord], bool], timeout: float) -> SpanRecord | None:
        for record in self.seen:
            if predicate(record):
                return record
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for record in self._poll(min(left, 0.5)):
                self.seen.append(record)
                if predicate(record):
                    return record
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SpanWatcher(Watcher):
    """Follows the bus file from where it stands when created (woken by inotify)."""

    def __init__(self, bus: Path, *, start: str = "end") -> None:
        super().__init__()
        self._follower: Follower[SpanRecord] = Follower(
            bus, reader="watch", parse=SpanRecord.from_json, deadletter=None, start=start
        )

    def _poll(self, timeout: float) -> Iterable[SpanRecord]:
        return (record for record, _position in self._follower.poll(timeout) or ())

    def close(self) -> None:
        self._follower.close()
